"""summary.json, the one-trial summary `python -m rbrl_ray.train` writes: its one owner.

A strict JSON object (NaN is null): the trial (env, method, classes, seed), its last
training and evaluation returns, ratings, the reward model's fit, the rating
service's restarts, throughput, and the curve (one point per iteration). Sweeps and
campaigns keep Tune's result.json instead (`trial_results.py`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.jsonio import write_json

SUMMARY_FILE = "summary.json"


def finite_or_none(value: float | None) -> float | None:
    """A metric as strict JSON has it: NaN (no episode ended, say) becomes null."""
    return None if value is None or math.isnan(value) else float(value)


def curve_point(result: dict[str, Any]) -> dict[str, Any]:
    """One iteration of the summary's curve: steps, training return, evaluation return."""
    return {
        "steps": int(m.under_env_runners(result, m.STEPS_KEY)),
        "true_return": finite_or_none(m.under_env_runners(result, m.RETURN_KEY)),
        "eval_return": finite_or_none(m.evaluation_return(result)),
    }


def last_value(curve: list[dict[str, Any]], key: str) -> float | None:
    values = [c[key] for c in curve if c.get(key) is not None and not math.isnan(c[key])]
    return values[-1] if values else None


def result_summary(
    spec: ExperimentSpec, result: dict[str, Any], steps_per_s: float, curve: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "env": spec.env,
        "method": spec.method,
        "classes": spec.classes,
        "seed": spec.seed,
        "timesteps_total": int(m.under_env_runners(result, m.STEPS_KEY)),
        "true_return_mean": last_value(curve, "true_return"),
        "eval_return_mean": last_value(curve, "eval_return"),
        "ratings": result.get(m.NUM_RATINGS, 0),
        "reward_model": {
            metric.split("/", 1)[1]: result.get(metric)
            for metric in (m.RM_ACCURACY, m.PEARSON_TRUE, m.SIGMA_CLS, m.SIGMA_REG, m.RM_VERSION)
        },
        "rating_service": {  # survived deaths (docs/reliability.md)
            "restarts": result.get(m.SERVICE_RESTARTS, 0),
            "ratings_reused": result.get(m.RATINGS_REUSED, 0),
        },
        "env_steps_per_s": round(steps_per_s, 1),
        "curve": curve,
    }


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    return write_json(folder / SUMMARY_FILE, summary)


def read_summary(folder: Path) -> dict[str, Any]:
    """A trial folder's summary; NaN or infinity in it is an error (it is strict JSON)."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{folder / SUMMARY_FILE}: {constant} is not JSON")

    return json.loads((folder / SUMMARY_FILE).read_text(), parse_constant=refuse)
