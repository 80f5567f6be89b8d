"""Statistics as RL papers now report them, for few seeds.

Per cell (one env and class count), method A against B:
- the difference of means with its 95 % interval, paired by seed where both methods
  ran the same seeds and share each seed's exploration (the reward methods), unpaired
  (Welch) otherwise;
- "beats": one-sided test of A - B > 0; "matches": two one-sided tests (TOST) that
  |A - B| < a margin fixed in advance;
- the smallest difference the cell could detect at power 0.8, and the seeds that
  would settle an inconclusive one at the observed effect.
Across cells, Holm's step-down adjustment for the family of a claim's tests.

Across tasks (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical
Precipice", the rliable library): the interquartile mean of normalised scores
and the probability of improvement, each with a 95 % stratified-bootstrap
interval (seeds resampled within each task), and performance profiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
MAX_SEEDS = 1000  # "seeds needed" beyond this: not worth stating


@dataclass(frozen=True)
class Difference:
    """A - B: mean, 95 % interval, standard error and degrees of freedom of its t."""

    paired: bool
    n_a: int
    n_b: int
    diff: float
    se: float
    df: float

    @property
    def tested(self) -> bool:
        return self.df > 0 and math.isfinite(self.se)

    def interval(self, alpha: float = ALPHA) -> tuple[float, float]:
        if not self.tested:
            return (math.nan, math.nan)
        half = float(stats.t.ppf(1 - alpha / 2, self.df)) * self.se
        return (self.diff - half, self.diff + half)

    def p_two_sided(self) -> float:
        if not self.tested:
            return math.nan
        return min(1.0, 2 * min(self.p_greater(0.0), self.p_greater(0.0, lower=True)))

    def p_greater(self, bound: float, lower: bool = False) -> float:
        """One-sided p of H0: A - B <= bound, i.e. evidence that A - B > bound
        (lower: of H0: A - B >= bound, evidence that A - B < bound)."""
        if not self.tested:
            return math.nan
        if self.se == 0:  # no spread: the sign alone decides
            beyond = self.diff < bound if lower else self.diff > bound
            return 0.0 if beyond else 1.0
        t = (self.diff - bound) / self.se
        return float(stats.t.cdf(t, self.df) if lower else stats.t.sf(t, self.df))

    def p_equivalent(self, margin: float) -> float:
        """TOST: p of "|A - B| >= margin" (small: A and B are within the margin)."""
        return max(self.p_greater(-margin), self.p_greater(margin, lower=True))

    def detectable(self, alpha: float = ALPHA, power: float = POWER) -> float:
        """Smallest |A - B| a two-sided test at `alpha` finds with `power`."""
        if not self.tested:
            return math.nan
        return _detectable(self.se, self.df, alpha, power)


def _detectable(se: float, df: float, alpha: float, power: float) -> float:
    return (float(stats.t.ppf(1 - alpha / 2, df)) + float(stats.t.ppf(power, df))) * se


def difference(a: Sequence[float], b: Sequence[float], paired: bool) -> Difference:
    """A - B over seeds; `paired`: a[i] and b[i] share seed i (equal lengths)."""
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    if paired:
        if len(a_) != len(b_):
            raise ValueError(f"paired samples differ in length: {len(a_)} and {len(b_)}")
        d = a_ - b_
        n = len(d)
        se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        return Difference(True, n, n, float(d.mean()), se, n - 1.0)
    diff = float(a_.mean() - b_.mean())
    if len(a_) < 2 or len(b_) < 2:
        return Difference(False, len(a_), len(b_), diff, math.nan, 0.0)
    va, vb = a_.var(ddof=1) / len(a_), b_.var(ddof=1) / len(b_)
    se = math.sqrt(va + vb)
    if se == 0:
        df = float(len(a_) + len(b_) - 2)
    else:  # Welch-Satterthwaite
        df = (va + vb) ** 2 / (va**2 / (len(a_) - 1) + vb**2 / (len(b_) - 1))
    return Difference(False, len(a_), len(b_), diff, se, df)


def seeds_needed(
    a: Sequence[float],
    b: Sequence[float],
    paired: bool,
    effect: float | None = None,
    alpha: float = ALPHA,
    power: float = POWER,
) -> int | None:
    """Seeds per method at which `effect` (default: the observed difference) would be
    detected with `power`, at the spread observed; None: no effect, or beyond MAX_SEEDS."""
    d = difference(a, b, paired)
    effect = abs(d.diff if effect is None else effect)
    if not d.tested or effect == 0:
        return None
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    if paired:
        spread = float((a_ - b_).std(ddof=1))
    else:
        spread = math.sqrt((a_.var(ddof=1) + b_.var(ddof=1)) / 2)
    for n in range(2, MAX_SEEDS + 1):
        se = spread / math.sqrt(n) if paired else spread * math.sqrt(2 / n)
        df = n - 1 if paired else 2 * n - 2
        if _detectable(se, df, alpha, power) <= effect:
            return n
    return None


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted)."""
    indexed = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    indexed.sort()
    m, adjusted, running = len(indexed), [math.nan] * len(p_values), 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


# -- across tasks (rliable) ---------------------------------------------------------------

Scores = dict[str, np.ndarray]  # task -> normalised scores over seeds


def iqm(scores: Scores) -> float:
    """Interquartile mean of every run's score, all tasks pooled."""
    pooled = np.concatenate(list(scores.values()))
    return float(stats.trim_mean(pooled, 0.25))


def probability_of_improvement(x: Scores, y: Scores) -> float:
    """P(X > Y): per task the chance a run of X beats a run of Y (ties count half),
    averaged over the tasks both have."""
    tasks = sorted(set(x) & set(y))
    per_task = []
    for task in tasks:
        a, b = x[task][:, None], y[task][None, :]
        per_task.append(float(np.mean((a > b) + 0.5 * (a == b))))
    return float(np.mean(per_task)) if per_task else math.nan


def stratified_bootstrap(
    statistic: Callable[..., float],
    samples: Sequence[Scores],
    reps: int = 2000,
    seed: int = 0,
    alpha: float = ALPHA,
) -> tuple[float, float, float]:
    """The statistic and its percentile interval: every run set resampled with
    replacement within each task, independently per sample."""
    rng = np.random.default_rng(seed)
    point = statistic(*samples)
    draws = []
    for _ in range(reps):
        resampled = [
            {task: runs[rng.integers(0, len(runs), len(runs))] for task, runs in s.items()}
            for s in samples
        ]
        draws.append(statistic(*resampled))
    low, high = np.nanpercentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return point, float(low), float(high)


def performance_profile(scores: Scores, taus: np.ndarray) -> np.ndarray:
    """Fraction of all runs with a normalised score above each τ."""
    pooled = np.concatenate(list(scores.values()))
    return np.array([float(np.mean(pooled > tau)) for tau in taus])
