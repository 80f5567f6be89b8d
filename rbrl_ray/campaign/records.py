"""A finished trial's compact record: what the report needs, small enough to commit.

One JSON file per trial, results/<campaign>/trials/<key>.json: the spec, one row per
iteration of the metrics the report reads (their flattened Tune names), the final
rating histogram, and where and how long it ran. No checkpoints, no W&B files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.jsonio import read_json, strict
from rbrl_ray.provenance import provenance
from rbrl_ray.sweep.varied import value_of
from rbrl_ray.trial_results import one_per_iteration

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
    m.RM_PHASE,
    m.EXPLORE_PEARSON_TRUE,
    m.TRAIN_REWARD_MEAN,
    m.TRAIN_REWARD_STD,
    *m.POLICY_METRICS,
    m.SERVICE_RESTARTS,
    "time_total_s",
    "time_this_iter_s",
    "timestamp",
)
#: 2: provenance (source commit, packages, cpu), restarts, trials beside it, wall time
#: from timestamps, what the policy trained on per iteration.
RECORD_VERSION = 2


def runs_of(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rows split where Tune restored the trial (iterations_since_restore back at 1)."""
    runs: list[list[dict[str, Any]]] = []
    for row in rows:
        if not runs or row.get("iterations_since_restore") == 1:
            runs.append([])
        runs[-1].append(row)
    return runs


def tune_restores(rows: list[dict[str, Any]]) -> list[int]:
    """For each time Tune restored the trial: the iteration it went on from."""
    return [run[0][m.ITERATION] - 1 for run in runs_of(rows)[1:]]


def service_restarts(rows: list[dict[str, Any]]) -> list[int]:
    """The iterations in which the trial replaced a dead rating service."""
    count, at = 0, []
    for row in rows:
        now = row.get(m.SERVICE_RESTARTS) or 0
        at += [row[m.ITERATION]] * max(0, now - count)
        count = max(count, now)
    return at


def wall_seconds(rows: list[dict[str, Any]]) -> float | None:
    """Wall time the trial ran, waits for fits included (Tune's time_total_s leaves them
    out): per run between restores, first iteration start to last iteration end. Tune's
    timestamps are whole seconds, so each run's span is good to about a second."""
    total = 0.0
    for run in runs_of(rows):
        first, last = run[0], run[-1]
        if first.get("timestamp") is None or last.get("timestamp") is None:
            return None
        total += last["timestamp"] - first["timestamp"] + (first.get("time_this_iter_s") or 0.0)
    return total


def compact_record(
    key: str,
    spec: ExperimentSpec,
    tiers: list[str],
    written: list[dict[str, Any]],
    beside: int | None = None,
    starts: list[int | None] | None = None,
) -> dict[str, Any]:
    """The record of a trial from every row its result.json holds (`written`), the
    most trials that ran beside it and the iteration each of its starts went on from
    (None: not known)."""
    rows = one_per_iteration(written)
    last = rows[-1] if rows else {}
    made = provenance()
    return {
        "version": RECORD_VERSION,
        "key": key,
        "tiers": tiers,
        "spec": spec.model_dump(mode="json"),
        "iterations": [{k: strict(row.get(k)) for k in KEPT_METRICS} for row in rows],
        "rating_histogram": last.get(m.CLASS_HISTOGRAM),
        "wall_s": strict(wall_seconds(written)),
        "tune_time_total_s": strict(last.get("time_total_s")),
        "restarts": {
            "tune": tune_restores(written),
            "rating_service": service_restarts(rows),
            # every start, also those that died before reporting (result.json has no row)
            **({"starts": starts} if starts is not None else {}),
        },
        "trials_beside": beside,
        "adam": spec.ppo.adam,
        "sampler": spec.ppo.sampler,
        "source": made["source"],
        "packages": made["packages"],
        "machine": f"{made['cpu']}, {made['cores']} cores",
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


PLAN_FILE = "plan.json"  # every trial the campaign's YAML asks for; the report reads it


def plan(trials: list[Any], varied: list[str] | None = None) -> dict[str, Any]:
    """The campaign's trials (anything with `key`, `spec`, `tiers`) as plain data, with
    the value of each setting in `varied` (dotted paths) the campaign varies."""

    def values(spec: Any) -> dict[str, Any]:
        settings = spec.model_dump(mode="json")
        return {path: value_of(settings, path) for path in varied or []}

    return {
        "trials": [
            {"key": t.key, "tiers": list(t.tiers), "env": t.spec.env, "method": t.spec.method,
             "classes": t.spec.classes, "seed": t.spec.seed, "timesteps": t.spec.timesteps,
             **({"varied": values(t.spec)} if varied else {})}
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
