"""Final returns per (env, class count, method) over seeds, and what a grid lacks."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from rbrl_ray.report.trials import Trial


def summarise(trials: list[Trial]) -> pd.DataFrame:
    """One row per (env, classes, method) over the finished trials' seeds.

    `ppo` ignores the class count: its trials stand in every class count of the env.
    """
    rows = []
    for trial in trials:
        if not trial.finished:
            continue
        counts = [trial.spec.classes]
        if trial.spec.method == "ppo":
            counts = sorted(
                {
                    t.spec.classes
                    for t in trials
                    if t.spec.env == trial.spec.env and t.spec.classes is not None
                }
            ) or [None]
        for classes in counts:
            rows.append(
                {
                    "env": trial.spec.env,
                    "classes": classes,
                    "method": trial.spec.method,
                    "seed": trial.spec.seed,
                    "final": trial.final_return,
                    "eval": trial.late_eval_return,
                    "late": trial.late("true_return"),
                    "auc": trial.auc,
                }
            )
    columns = [
        "env",
        "classes",
        "method",
        "eval_mean",
        "eval_se",
        "return_mean",
        "return_se",
        "seeds",
        "return_last10pct_mean",
        "auc_mean",
        "auc_se",
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["env", "classes", "method"], dropna=False, sort=False)
    summary = grouped.agg(
        eval_mean=("eval", "mean"),
        eval_se=("eval", _standard_error),
        return_mean=("final", "mean"),
        return_se=("final", _standard_error),
        seeds=("seed", "nunique"),
        return_last10pct_mean=("late", "mean"),
        auc_mean=("auc", "mean"),
        auc_se=("auc", _standard_error),
    ).reset_index()
    return summary[columns]


def _standard_error(values: pd.Series) -> float:
    values = values.dropna()
    return values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else math.nan


def missing(trials: list[Trial], planned: list[dict[str, Any]] | None = None) -> list[str]:
    """Unfinished trials, and what a complete grid would add: the planned trials
    without a finished record (a campaign's plan), or else the (env, method, classes)
    cells short of the seeds seen elsewhere."""
    notes = [
        f"still running or stopped early: {t.path.name} ({t.steps:,} of {t.spec.timesteps:,} steps)"
        for t in trials
        if not t.finished
    ]
    if planned is not None:
        return notes + _unrecorded(trials, planned)
    seeds = sorted({t.spec.seed for t in trials})
    cells = {(t.spec.env, t.spec.method, t.spec.classes) for t in trials}
    for env, method, classes in sorted(cells, key=str):
        have = {
            t.spec.seed
            for t in trials
            if t.finished and (t.spec.env, t.spec.method, t.spec.classes) == (env, method, classes)
        }
        lacking = [s for s in seeds if s not in have]
        if lacking:
            label = _label(method, classes)
            notes.append(f"no finished result for {env}, {label}, seeds {lacking}")
    return notes


def _unrecorded(trials: list[Trial], planned: list[dict[str, Any]]) -> list[str]:
    """Per planned cell, the seeds whose record is not here (records are named by key)."""
    done = {t.path.stem for t in trials if t.finished}
    cells: dict[tuple, list[int]] = {}
    for p in planned:
        if p["key"] not in done:
            settings = ", ".join(f"{k}={v}" for k, v in p.get("varied", {}).items())
            cell = (p["tiers"][0], p["env"], p["method"], p["classes"], p["timesteps"], settings)
            cells.setdefault(cell, []).append(p["seed"])
    notes = []
    for (tier, env, method, classes, steps, settings), seeds in cells.items():
        where = f"tier {tier}: {env}, {_label(method, classes)}, {steps:,} steps"
        if settings:
            where += f", {settings}"
        if len(set(seeds)) < len(seeds):  # a plan from before it named varied settings
            notes.append(f"{where}: {len(seeds)} trials (seeds {sorted(set(seeds))}, "
                         "settings varied) not recorded yet")  # fmt: skip
        else:
            notes.append(f"{where}: seeds {sorted(seeds)} not recorded yet")
    return notes


def _label(method: str, classes: int | None) -> str:
    return method if classes is None else f"{method}, {classes} classes"
