"""The core's validation layer: one strict base model, shared bounds, one error type.

Core modules raise `ConfigError` (a ValueError) or let pydantic's ValidationError
through; only the command-line layer (`rbrl_ray.cli` and each application's
`cli`) turns them into the one line the user sees and exit code 2.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

MIN_CLASSES, MAX_CLASSES = 2, 10
#: The one description of the bound, in every --help and error message.
CLASSES_BOUND = f"{MIN_CLASSES}..{MAX_CLASSES}"


def class_count_error(value: object) -> str:
    """The one message for a class count outside the bound (configs and CLIs alike)."""
    return f"classes must be {CLASSES_BOUND}, got {value}"


def _class_count(value: int) -> int:
    if not MIN_CLASSES <= value <= MAX_CLASSES:
        raise ValueError(class_count_error(value))
    return value


#: A number of rating classes.
ClassCount = Annotated[int, AfterValidator(_class_count)]


class ConfigError(ValueError):
    """Bad configuration or input; its message is one line for the user."""


class StrictModel(BaseModel):
    """Base of every config: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def known(value: str, allowed: tuple[str, ...], what: str) -> str:
    """`value` if it is one of `allowed`, else a ConfigError naming both."""
    if value not in allowed:
        raise ConfigError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")
    return value


def error_line(err: Exception, model: type[BaseModel] | None = None, prefix: str = "") -> str:
    """One line from a pydantic ValidationError: where (the full dotted path, after
    `prefix`) and what. An unknown key comes first, whatever else is wrong (a
    misspelt key also leaves a required one missing), with the keys allowed at its
    own level of `model`. Any other error: its message."""
    if not isinstance(err, ValidationError):
        return str(err)
    errors = err.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    first = (unknown or errors)[0]
    # list indices are left out: the message names the bad value itself
    path = [str(p) for p in first["loc"] if not isinstance(p, int)]
    where = ".".join([prefix, *path] if prefix else path)
    if unknown and model is not None:
        level = _model_at(model, path[:-1])
        allowed = f"; allowed: {', '.join(level.model_fields)}" if level is not None else ""
        return f"unknown key {where!r}{allowed}"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _model_at(model: type[BaseModel], path: list[str]) -> type[BaseModel] | None:
    """The model class at `path` (field names) inside `model`; None if a step is not
    a model (a dict of settings, a list)."""
    for name in path:
        field = model.model_fields.get(name)
        if field is None:
            return None
        candidates = [field.annotation, *get_args(field.annotation)]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
