"""Tune's result.json of a trial, read one way everywhere (the campaign's records,
the report's curves): one JSON object per row in the order written, nested metrics
flattened to "a/b" names, a last line cut short by a kill left out. A trial that Tune
restored writes the iterations after its checkpoint again; its timeline is the last
row written of each iteration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rbrl_ray import metric_names as m
from rbrl_ray.jsonio import read_json_lines

RESULT_FILE = "result.json"
ADVICE = "move the trial folder aside and rerun the trial"


def flatten(result: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


def all_result_rows(trial_dir: Path, advice: str = ADVICE) -> list[dict[str, Any]]:
    """Every row of the trial's result.json in the order written, flattened (none
    when it has no file yet)."""
    path = Path(trial_dir) / RESULT_FILE
    values, _ = read_json_lines(path, "Tune result file", advice) if path.exists() else ([], 0)
    return [flatten(value) for value in values]


def one_per_iteration(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last row written of each iteration, in order (the trial's single timeline)."""
    by_iteration = {row.get(m.ITERATION): row for row in rows}
    return [by_iteration[i] for i in sorted(i for i in by_iteration if i is not None)]


def result_rows(trial_dir: Path, advice: str = ADVICE) -> list[dict[str, Any]]:
    """The trial's timeline: one row per iteration, the last one written."""
    return one_per_iteration(all_result_rows(trial_dir, advice))
