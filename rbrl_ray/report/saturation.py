"""A learned reward saturated at its top class: the cells where it no longer tells the
policy's states apart, so a comparison with PPO there measures the rating range too.

The reward model's output r̂ lies in [−1, 1] (a tanh). Every segment above the rating
range is top class, so once the policy's segments are all above it, r̂ sits near +1
with little spread, and the policy is asked for nothing more (campaign v2's
cheetah-run: results/campaign_v2/ANALYSIS.md). A cell is flagged when, averaged over
its seeds, r̂'s mean on the policy's batches over the last quarter of training is at
least SATURATED_MEAN and its spread at most SATURATED_STD, while the final return is
below the ceiling (at the ceiling a saturated reward costs nothing). The thresholds
were set after seeing campaign v2's records (cheetah-run's runs: mean 0.992-0.997, std
0.04-0.07; walker-walk's, partly saturated: 0.76-0.91, 0.32-0.47), so the flag is a
marker for the reader, not a test.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rbrl_ray.envs import MAX_EPISODE_RETURN
from rbrl_ray.methods import METHODS
from rbrl_ray.report.claims import CEILING
from rbrl_ray.report.trials import LATE, Trial

SATURATED_MEAN = 0.95
SATURATED_STD = 0.1


def _mean(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def saturated_cells(
    trials: list[Trial], final: Callable[[Trial], float]
) -> list[tuple[str, int | None, str, float, float]]:
    """(env, classes, method, r̂ mean, r̂ std) of each saturated cell, sorted."""
    cells: dict[tuple, list[Trial]] = {}
    for t in trials:
        if t.finished and t.spec.learns_reward:
            cells.setdefault((t.spec.env, t.spec.classes, t.spec.method), []).append(t)
    out = []
    for (env, classes, method), mine in sorted(cells.items(), key=str):
        mean = _mean([t.late("train_reward_mean", LATE) for t in mine])
        std = _mean([t.late("train_reward_std", LATE) for t in mine])
        below = _mean([final(t) for t in mine]) < CEILING * MAX_EPISODE_RETURN
        if mean >= SATURATED_MEAN and std <= SATURATED_STD and below:
            out.append((env, classes, method, mean, std))
    return out


def saturation_lines(trials: list[Trial], final: Callable[[Trial], float]) -> list[str]:
    """The page's warning, one bullet per saturated cell (nothing when none is)."""
    cells = saturated_cells(trials, final)
    if not cells:
        return []
    lines = [
        f"A learned reward saturated at its top class (r̂ mean ≥ {SATURATED_MEAN} and std "
        f"≤ {SATURATED_STD} on the policy's batches over the last quarter, the final return "
        "below the ceiling): the reward no longer tells the policy's states apart and asks "
        "for nothing more (typically the policy's segments lie above the rating range, all "
        "top class), so a comparison in these cells, with PPO above all, measures the "
        "rating range as well as the methods; the claims table marks them:",
        "",
    ]
    for env, classes, method, mean, std in cells:
        count = "" if classes is None else f", {classes} classes"
        lines.append(f"- {env}{count}, {METHODS[method].label}: r̂ mean {mean:.3f}, std {std:.3f}")
    return [*lines, ""]
