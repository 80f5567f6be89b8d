"""Every JSON file this project writes: strict (NaN and infinities as null, which
`jq`, browsers and other languages accept) and atomic (a temp file, fsync, rename:
a kill or a full disk leaves the old file or the new one, never half of one)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np


def strict(value: Any) -> Any:
    """`value` with every non-finite float as None and numpy scalars and arrays as
    Python numbers and lists, through dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Strict JSON text of `value` (json.dumps keywords pass through)."""
    return json.dumps(strict(value), allow_nan=False, **kwargs)


def write_json(path: str | os.PathLike[str], value: Any, indent: int | None = 2) -> Path:
    """Write `value` to `path` as strict JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with open(temp, "w") as handle:
            handle.write(dumps(value, indent=indent))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)  # a full disk leaves no half-written temp file behind
        raise
    return path
