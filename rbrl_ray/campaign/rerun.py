"""Rerunning one recorded trial: does its spec and seed give the same numbers again?

The rerun takes the campaign's own path (a Tune trial with the same resources and
thread counts), stops after a few iterations, and compares each iteration's true
return with the record's, exactly.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rbrl_ray import metric_names as m
from rbrl_ray.campaign.records import read_record, record_path
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.trial_results import result_rows
from rbrl_ray.validation import ConfigError


def recorded_spec(records: Path, key: str) -> tuple[ExperimentSpec, list[dict[str, Any]]]:
    path = record_path(records, key)
    if not path.is_file():
        known = sorted(p.stem for p in (records / "trials").glob("*.json"))
        shown = ", ".join(known[:5]) + (", …" if len(known) > 5 else "") or "none"
        raise ConfigError(f"no record {key!r} in {records / 'trials'}; recorded: {shown}")
    record = read_record(path)
    return ExperimentSpec.from_stored(record["spec"]), record["iterations"]


def rerun(spec: ExperimentSpec, iterations: int, storage: Path) -> list[dict[str, Any]]:
    """The first `iterations` iterations of `spec` through Tune, as flattened rows."""
    from rbrl_ray.sweep.tuner import new_tuner

    steps = iterations * spec.ppo.train_batch_size
    short = spec.model_copy(update={"timesteps": steps})
    tuner = new_tuner([short], name="rerun", storage=str(storage), checkpoint_every=10**6,
                      max_failures=0)  # fmt: skip
    (result,) = list(tuner.fit())
    if result.error is not None:
        raise RuntimeError(f"the rerun failed: {result.error}")
    return result_rows(Path(result.path))


def same_returns(recorded: list[dict], again: list[dict], iterations: int) -> list[tuple]:
    """(iteration, recorded true return, rerun true return, equal) for the first ones."""
    rows = []
    for old, new in zip(recorded[:iterations], again[:iterations], strict=False):
        a, b = old.get(m.TRUE_RETURN), new.get(m.TRUE_RETURN)
        both_missing = (a is None or math.isnan(a)) and (b is None or math.isnan(b))
        rows.append((old[m.ITERATION], a, b, both_missing or a == b))
    return rows
