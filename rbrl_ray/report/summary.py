"""Final returns per (env, class count, method) over seeds, and what a grid lacks."""

from __future__ import annotations

import math

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
                    "eval": trial.final_eval_return,
                    "late": trial.late_return(),
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


def missing(trials: list[Trial]) -> list[str]:
    """What a complete grid of the trials found would add: unfinished trials and
    (env, method, classes) cells short of the seeds seen elsewhere."""
    notes = [
        f"still running or stopped early: {t.path.name} ({t.steps:,} of {t.spec.timesteps:,} steps)"
        for t in trials
        if not t.finished
    ]
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
            label = method if classes is None else f"{method}, {classes} classes"
            notes.append(f"no finished result for {env}, {label}, seeds {lacking}")
    return notes
