"""Across tasks, as the field now reports it (Agarwal et al. 2021; rliable): each
method's interquartile mean of normalised final returns and the probability that it
improves on another, with 95 % stratified-bootstrap intervals (runs resampled within
each env), and performance profiles.

Scores are final returns / 1000 (a DeepMind Control episode's maximum). Only the
paper's main setting enters (3 rating classes; `ppo` has none), so each env is one
stratum and no env counts twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rbrl_ray.envs import MAX_EPISODE_RETURN as MAX_RETURN  # noqa: E402
from rbrl_ray.methods import METHODS  # noqa: E402
from rbrl_ray.report.statistics import (  # noqa: E402
    Scores,
    iqm,
    performance_profile,
    probability_of_improvement,
    stratified_bootstrap,
)
from rbrl_ray.report.trials import Trial  # noqa: E402

CLASSES = 3
MAIN_METHODS = ("ppo", "rbrl", "ours")  # the methods of paper Fig. 2
PAIRS = (("ours", "rbrl"), ("ours", "ppo"), ("rbrl", "ppo"))


def scores_by_method(trials: list[Trial], final: Callable[[Trial], float]) -> dict[str, Scores]:
    """method -> env -> normalised final scores of its finished runs at CLASSES."""
    out: dict[str, dict[str, list[float]]] = {}
    for t in trials:
        if not t.finished or t.spec.classes not in (None, CLASSES):
            continue
        value = final(t)
        if not math.isnan(value):
            out.setdefault(t.spec.method, {}).setdefault(t.spec.env, []).append(value / MAX_RETURN)
    return {m: {e: np.asarray(v) for e, v in envs.items()} for m, envs in out.items()}


def common_envs(scores: dict[str, Scores]) -> list[str]:
    """The envs every main method present ran (each method scored on the same tasks)."""
    main = [m for m in MAIN_METHODS if m in scores]
    return sorted(set.intersection(*(set(scores[m]) for m in main))) if main else []


def _interval(point: float, low: float, high: float) -> str:
    return f"{point:.3f} [{low:.3f}, {high:.3f}]"


def aggregate_lines(trials: list[Trial], final: Callable[[Trial], float]) -> list[str]:
    scores = scores_by_method(trials, final)
    if not scores:
        return []
    main = [m for m in MAIN_METHODS if m in scores]
    common = common_envs(scores)
    if not common:
        return []
    lines = [
        "## Across tasks",
        "",
        f"Normalised score: final return / {MAX_RETURN:g}, at {CLASSES} rating classes (`ppo` "
        "has none), over the envs every one of "
        + ", ".join(METHODS[m].label for m in main)
        + f" ran ({', '.join(common)}), so every method is scored on the same tasks. "
        "Interquartile mean (IQM) over a method's runs, pooled across those envs, and "
        "probability of improvement P(X > Y) (per env, the chance a run of X beats a run "
        "of Y, averaged over the envs), each with a 95 % stratified-bootstrap interval "
        "(2,000 resamples of the runs within each env; rliable's estimators). Methods "
        "without runs on all of them are left out here.",
        "",
        "| method | runs | IQM [95 % CI] |",
        "|---|---:|---|",
    ]
    for method in (m for m in METHODS if m in scores and set(common) <= set(scores[m])):
        envs = {e: scores[method][e] for e in common}
        runs = sum(len(v) for v in envs.values())
        point = stratified_bootstrap(iqm, [envs])
        lines.append(f"| {METHODS[method].label} | {runs} | {_interval(*point)} |")
    pairs = [(x, y) for x, y in PAIRS if x in scores and y in scores]
    if pairs:
        lines += ["", "| X vs Y | P(X > Y) [95 % CI] |", "|---|---|"]
        for x, y in pairs:
            xs = {e: scores[x][e] for e in common}
            ys = {e: scores[y][e] for e in common}
            point = stratified_bootstrap(probability_of_improvement, [xs, ys])
            lines.append(f"| {METHODS[x].label} vs {METHODS[y].label} | {_interval(*point)} |")
    return [*lines, "", "![performance profiles](performance_profile.png)", ""]


def performance_profiles(trials: list[Trial], final: Callable[[Trial], float], out) -> None:
    """Fraction of runs above each normalised score τ, one line per method."""
    scores = scores_by_method(trials, final)
    common = common_envs(scores)
    taus = np.linspace(0.0, 1.0, 101)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for method in (m for m in METHODS if m in scores and set(common) <= set(scores[m])):
        mine = {e: scores[method][e] for e in common}
        runs = sum(len(v) for v in mine.values())
        ax.plot(taus, performance_profile(mine, taus), color=METHODS[method].colour,
                label=f"{METHODS[method].label} (n={runs})")  # fmt: skip
    ax.set_xlabel(f"normalised final return τ (return / {MAX_RETURN:g})")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_title(f"Performance profiles, {CLASSES} classes, pooled over\n"
                 f"{', '.join(common) or 'no env every main method ran'}", fontsize=9)  # fmt: skip
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
