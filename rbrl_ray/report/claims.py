"""The paper's claims, tested on the trials at hand: per-cell comparisons and a verdict.

A cell is one env and class count. In each, method A's final returns over seeds
are compared with method B's by Welch's t-test (unequal variances), with the 95 %
confidence interval of the difference of means A - B (Welch-Satterthwaite degrees
of freedom). `ppo` ignores the class count and is compared in every cell of its env.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05


@dataclass(frozen=True)
class Claim:
    text: str
    a: str
    b: str
    rule: str  # "better everywhere" or "matches somewhere"


#: The claims of the paper (arXiv 2506.09183) this suite can test.
CLAIMS = (
    Claim("Ours beats RbRL on every task and class count", "ours", "rbrl", "better everywhere"),
    Claim("Ours can match or beat PPO on the true reward", "ours", "ppo", "matches somewhere"),
    Claim("Learned weights beat the fixed 0.5 / 0.5 weights", "ours", "ours_equal",
          "better everywhere"),
    Claim("Both tasks beat classification alone", "ours", "ours_cls", "better everywhere"),
    Claim("Both tasks beat regression alone", "ours", "ours_reg", "better everywhere"),
)  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    env: str
    classes: int | None
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float
    ci: tuple[float, float]
    p: float

    @property
    def tested(self) -> bool:
        """Whether both sides have the two seeds a t-test needs."""
        return not math.isnan(self.p)

    @property
    def significant(self) -> bool:
        return self.tested and self.p < ALPHA


def welch(a: list[float], b: list[float]) -> tuple[float, tuple[float, float], float]:
    """Difference of means a - b, its 95 % CI and Welch's two-sided p (NaN: too few)."""
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    diff = float(a_.mean() - b_.mean())
    if len(a_) < 2 or len(b_) < 2:
        return diff, (math.nan, math.nan), math.nan
    va, vb = a_.var(ddof=1) / len(a_), b_.var(ddof=1) / len(b_)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, (diff, diff), 0.0 if diff else 1.0
    df = (va + vb) ** 2 / (va**2 / (len(a_) - 1) + vb**2 / (len(b_) - 1))
    half = float(stats.t.ppf(1 - ALPHA / 2, df)) * se
    p = float(stats.ttest_ind(a_, b_, equal_var=False).pvalue)
    return diff, (diff - half, diff + half), p


def compare(finals: dict[tuple[str, int | None, str], list[float]], a: str, b: str) -> list:
    """Comparisons of method a with b in every cell where both have results.

    `finals` maps (env, classes, method) to final returns over seeds; `ppo` is keyed
    with classes None and stands in every class count of its env.
    """
    out = []
    for env, classes, method in sorted(finals, key=str):
        if method != a or (a == "ppo" and classes is not None):
            continue
        other = finals.get((env, None if b == "ppo" else classes, b))
        mine = finals[(env, classes, method)]
        if not other:
            continue
        diff, ci, p = welch(mine, other)
        mean_a, mean_b = float(np.mean(mine)), float(np.mean(other))
        out.append(Comparison(env, classes, len(mine), len(other), mean_a, mean_b, diff, ci, p))
    return out


def verdict(claim: Claim, cells: list[Comparison]) -> str:
    """holds / does not hold / inconclusive at this budget / not measured."""
    if not cells:
        return "not measured"
    worse = [c for c in cells if c.significant and c.diff < 0]
    if claim.rule == "better everywhere":
        if worse:
            return "does not hold"
        if all(c.significant and c.diff > 0 for c in cells):
            return "holds"
        return "inconclusive at this budget"
    # matches somewhere: A's mean reaches B's in some tested cell (one seed a side is an
    # anecdote, not a match)
    if any(c.tested and c.diff >= 0 for c in cells):
        return "holds"
    if len(worse) == len(cells):
        return "does not hold"
    return "inconclusive at this budget"


def cell_label(c: Comparison) -> str:
    classes = "" if c.classes is None else f", {c.classes} cl."
    p = "–" if math.isnan(c.p) else f"{c.p:.3f}"
    ci = "" if math.isnan(c.ci[0]) else f" [{c.ci[0]:+.0f}, {c.ci[1]:+.0f}]"
    return f"{c.env}{classes}: {c.diff:+.1f}{ci}, p {p} (n {c.n_a}/{c.n_b})"


def claims_table(finals: dict[tuple[str, int | None, str], list[float]], measure: str) -> str:
    """The claims as a markdown table: claim | what was measured | verdict."""
    lines = [
        f"| claim | measured here: {measure} of A − B, 95 % CI, Welch's p (seeds A/B) | verdict |",
        "|---|---|---|",
    ]
    for claim in CLAIMS:
        cells = compare(finals, claim.a, claim.b)
        measured = "<br>".join(cell_label(c) for c in cells) or "no trials of both methods"
        lines.append(f"| {claim.text} (A = {claim.a}, B = {claim.b}) | {measured} | "
                     f"{verdict(claim, cells)} |")  # fmt: skip
    return "\n".join(lines)
