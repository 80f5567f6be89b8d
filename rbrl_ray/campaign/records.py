"""A finished trial's compact record: what the report needs, small enough to commit.

One JSON file per trial, results/<campaign>/trials/<key>.json: the spec, one row per
iteration of the metrics the report reads (their flattened Tune names), the final
rating histogram, and where and how long it ran. No checkpoints, no W&B files.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.jsonio import read_json, read_json_lines, strict

#: Flattened result metrics kept per iteration.
KEPT_METRICS = (
    m.ITERATION,
    m.STEPS,
    m.TRUE_RETURN,
    m.EVAL_RETURN,
    f"{m.EVALUATION}/{m.ENV_RUNNERS}/{m.EVAL_RETURN_MIN_KEY}",
    f"{m.EVALUATION}/{m.ENV_RUNNERS}/{m.EVAL_RETURN_MAX_KEY}",
    m.NUM_RATINGS,
    m.RM_VERSION,
    m.RM_ACCURACY,
    m.RM_FIT_EPOCHS,
    m.RM_FIT_SECONDS,
    m.PEARSON_TRUE,
    m.SIGMA_CLS,
    m.SIGMA_REG,
    "time_total_s",
)
RECORD_VERSION = 1


def flatten(result: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


def result_rows(trial_dir: Path) -> list[dict[str, Any]]:
    """Every iteration in a Tune trial's result.json, flattened (a cut last line skipped:
    the trial was killed mid-write, and the next run repeats that iteration)."""
    path = trial_dir / "result.json"
    advice = "move the trial folder aside and rerun the trial"
    values, _ = read_json_lines(path, "Tune result file", advice) if path.exists() else ([], 0)
    rows = [flatten(value) for value in values]
    by_iteration = {row.get(m.ITERATION): row for row in rows}  # a rerun iteration: the last
    return [by_iteration[i] for i in sorted(i for i in by_iteration if i is not None)]


def compact_record(
    key: str, spec: ExperimentSpec, tiers: list[str], rows: list[dict[str, Any]], machine: str
) -> dict[str, Any]:
    last = rows[-1] if rows else {}
    return {
        "version": RECORD_VERSION,
        "key": key,
        "tiers": tiers,
        "spec": spec.model_dump(mode="json"),
        "iterations": [{k: strict(row.get(k)) for k in KEPT_METRICS} for row in rows],
        "rating_histogram": last.get(m.CLASS_HISTOGRAM),
        "wall_s": strict(last.get("time_total_s")),
        "machine": machine,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


PLAN_FILE = "plan.json"  # every trial the campaign's YAML asks for; the report reads it


def plan(trials: list[Any]) -> dict[str, Any]:
    """The campaign's trials (anything with `key`, `spec`, `tiers`) as plain data."""
    return {
        "trials": [
            {"key": t.key, "tiers": list(t.tiers), "env": t.spec.env, "method": t.spec.method,
             "classes": t.spec.classes, "seed": t.spec.seed, "timesteps": t.spec.timesteps}
            for t in trials
        ]
    }  # fmt: skip


def record_path(records: Path, key: str) -> Path:
    return records / "trials" / f"{key}.json"


def pending(trials: list[Any], records: Path) -> list[Any]:
    """The campaign trials (anything with a `key`) that have no record yet."""
    return [t for t in trials if not record_path(records, t.key).exists()]


def read_record(path: Path) -> dict[str, Any]:
    return read_json(path, "trial record", "restore it with git, or delete it to rerun the trial")


def machine_line() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"
