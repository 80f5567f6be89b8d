"""Every JSON file this project writes: strict (NaN and infinities as null, which
`jq`, browsers and other languages accept) and atomic (a temp file, fsync, rename:
a kill or a full disk leaves the old file or the new one, never half of one).
Reading one back, a damaged file is a DamagedFile error naming it (one line)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from rbrl_ray.validation import ConfigError


class DamagedFile(ConfigError):
    """A file of ours that cannot be read; the message names it, what is wrong and
    what to do, in one line."""

    def __init__(self, path: Path, what: str, problem: str, advice: str) -> None:
        super().__init__(f"{path}: damaged {what} ({problem}); {advice}")
        self.path = path


def read_json(path: Path, what: str, advice: str) -> Any:
    """The JSON value in `path` (NaN accepted: files from before strict writing);
    DamagedFile when it is unreadable or cut short."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedFile(Path(path), what, _problem(err), advice) from None


def read_json_lines(path: Path, what: str, advice: str) -> tuple[list[Any], bool]:
    """The JSON value of each line of `path` and whether its last line was cut short
    (a process killed mid-write; that line is left out). A bad line anywhere else is
    damage: DamagedFile."""
    try:
        lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise DamagedFile(Path(path), what, _problem(err), advice) from None
    values = []
    for number, line in enumerate(lines, start=1):
        try:
            values.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):
                return values, True
            raise DamagedFile(Path(path), what, f"line {number}: {_problem(err)}", advice) from None
    return values, False


def _problem(err: BaseException) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"not JSON at line {err.lineno} column {err.colno}: {err.msg}"
    return f"{type(err).__name__}: {err}"


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
    return write_text(path, dumps(value, indent=indent))


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` in place of `path`'s contents, all or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with open(temp, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)  # a full disk leaves no half-written temp file behind
        raise
    return path
