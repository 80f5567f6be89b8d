"""The core's validation layer: one strict base model, shared bounds, one error type.

Core modules raise `ConfigError` (a ValueError) or let pydantic's ValidationError
through; only the command-line layer (`rbrl_ray.cli` and each application's
`cli`) turns them into the one line the user sees and exit code 2.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

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


def error_line(err: Exception, model: type[BaseModel] | None = None) -> str:
    """One line from a pydantic ValidationError: where and what (for an unknown key,
    the keys `model` allows). Any other error: its message."""
    if not isinstance(err, ValidationError):
        return str(err)
    first = err.errors()[0]
    # list indices are left out: the message names the bad value itself
    where = ".".join(str(p) for p in first["loc"] if not isinstance(p, int))
    if first["type"] == "extra_forbidden" and model is not None:
        return f"unknown key {where!r}; allowed: {', '.join(model.model_fields)}"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
