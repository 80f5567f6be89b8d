"""A trial's progress.csv (one row per training iteration) and its learning curve.

A resumed trial restarts from its checkpoint, so the iterations a killed run made
after that checkpoint are made again. Those rows are moved, not dropped, to
progress.abandoned.csv (the run that made them is gone, but what it saw is kept),
and progress.csv keeps one row per iteration of the trial's single timeline.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from rbrl_ray import metric_names as m
from rbrl_ray.jsonio import write_text

PROGRESS_FILE, ABANDONED_FILE = "progress.csv", "progress.abandoned.csv"
CURVE_KEYS = ("steps", "true_return", "eval_return")  # a curve point, in this order
COLUMNS = (
    "iteration",
    *CURVE_KEYS,
    m.NUM_RATINGS,
    m.RM_VERSION,
    m.RM_ACCURACY,
    m.PEARSON_TRUE,
    m.SIGMA_CLS,
    m.SIGMA_REG,
    m.RM_FIT_EPOCHS,
    m.RM_FIT_SECONDS,
)


def append(path: Path, result: dict[str, Any], point: dict[str, Any]) -> None:
    """One row per iteration under fixed columns (blank where a value does not exist yet,
    e.g. reward-model figures before the first fit)."""
    row = {**result, **point, "iteration": result[m.ITERATION]}
    row = {key: "" if value is None else value for key, value in row.items()}
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({key: row.get(key, "") for key in COLUMNS})


def resume(out: Path, restored_iteration: int) -> list[dict[str, Any]]:
    """Keep the rows up to the restored iteration; move later ones aside; return the
    curve of the kept rows. A row a kill cut short is moved aside with them."""
    path = out / PROGRESS_FILE
    if not path.is_file():
        return []
    kept, later = _split(path.read_text(), restored_iteration)
    if later:
        with open(out / ABANDONED_FILE, "a") as handle:
            handle.writelines(line + "\n" for line in later)
        write_text(path, "".join(line + "\n" for line in kept))
    return [_curve_point(row) for row in csv.DictReader(kept)]


def _split(text: str, restored_iteration: int) -> tuple[list[str], list[str]]:
    """(header + rows at or before the restored iteration, every other row)."""
    header, *rows = text.splitlines() or [""]
    kept, later = [header], []
    for line in rows:
        iteration = line.split(",", 1)[0]
        whole = line.count(",") == len(COLUMNS) - 1 and iteration.isdigit()
        (kept if whole and int(iteration) <= restored_iteration else later).append(line)
    return kept, later


def _curve_point(row: dict[str, str]) -> dict[str, Any]:
    steps, true_return, eval_return = (row[key] for key in CURVE_KEYS)
    return {
        "steps": int(float(steps)),
        "true_return": _number(true_return),
        "eval_return": _number(eval_return),
    }


def _number(cell: str) -> float | None:
    value = float(cell) if cell else math.nan
    return None if math.isnan(value) else value
