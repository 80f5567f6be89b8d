"""Validation helpers shared by the configs: known names, and one-line error messages."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError


def known(value: str, allowed: tuple[str, ...], what: str) -> str:
    """`value` if it is one of `allowed`, else a ValueError naming both."""
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")
    return value


def error_line(err: Exception, model: type[BaseModel] | None = None) -> str:
    """One line from a pydantic ValidationError: where and what (for an unknown key,
    the keys `model` allows). Any other error: its message."""
    if not isinstance(err, ValidationError):
        return str(err)
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden" and model is not None:
        return f"unknown key {where!r}; allowed: {', '.join(model.model_fields)}"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
