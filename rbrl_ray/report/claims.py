"""The paper's claims, tested on the trials at hand: per-cell comparisons and a verdict.

A cell is one env and class count; `ppo` ignores the class count and is compared in
every cell of its env. In each cell method A's final returns over seeds are compared
with method B's (rbrl_ray/report/statistics.py):
- paired by seed where both methods learn from ratings and ran the same seeds: a seed
  gives them the same exploration phase (the same state-entropy reward, the same
  episodes) until their reward models differ; unpaired (Welch) otherwise;
- "A beats B": one-sided test of A − B > 0; "A matches B": two one-sided tests that
  |A − B| < MARGIN × B's mean (fixed before any v2 record existed);
- p-values of one claim's cells are Holm-adjusted together (a claim is one family);
- a cell where both means reach CEILING of the maximum return is marked: the task
  cannot tell the methods apart there, so a "matches" verdict resting on such cells
  alone says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rbrl_ray.envs import MAX_EPISODE_RETURN
from rbrl_ray.methods import METHODS
from rbrl_ray.report.statistics import (
    ALPHA,
    MAX_SEEDS,
    Difference,
    difference,
    holm,
    seeds_needed,
)

MARGIN = 0.10  # "matches": within 10 % of B's mean final return on that task
CEILING = 0.95  # both means at >= 95 % of the maximum return: the task is saturated

#: cell (env, classes, method) -> seed -> final return
Finals = dict[tuple[str, int | None, str], dict[int, float]]


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
    a: tuple[float, ...]  # A's finals, in seed order (paired: the same seeds as b)
    b: tuple[float, ...]
    test: Difference

    @property
    def n_a(self) -> int:
        return len(self.a)

    @property
    def n_b(self) -> int:
        return len(self.b)

    @property
    def mean_a(self) -> float:
        return float(np.mean(self.a))

    @property
    def mean_b(self) -> float:
        return float(np.mean(self.b))

    @property
    def diff(self) -> float:
        return self.test.diff

    @property
    def ci(self) -> tuple[float, float]:
        return self.test.interval()

    @property
    def p(self) -> float:
        return self.test.p_two_sided()

    @property
    def tested(self) -> bool:
        return self.test.tested

    @property
    def significant(self) -> bool:
        return self.tested and self.p < ALPHA

    @property
    def margin(self) -> float:
        return MARGIN * abs(self.mean_b)

    @property
    def at_ceiling(self) -> bool:
        return min(self.mean_a, self.mean_b) >= CEILING * MAX_EPISODE_RETURN

    def seeds_to_settle(self) -> int | None:
        return seeds_needed(self.a, self.b, self.test.paired)


def shares_exploration(a: str, b: str) -> bool:
    """Whether one seed gives both methods the same exploration phase."""
    return METHODS[a].learns_reward and METHODS[b].learns_reward


def compare(finals: Finals, a: str, b: str) -> list[Comparison]:
    """Comparisons of method a with b in every cell where both have results."""
    out = []
    for env, classes, method in sorted(finals, key=str):
        if method != a or (a == "ppo" and classes is not None):
            continue
        other = finals.get((env, None if b == "ppo" else classes, b))
        mine = finals[(env, classes, method)]
        if not other:
            continue
        paired = shares_exploration(a, b) and sorted(mine) == sorted(other) and len(mine) > 1
        seeds_a, seeds_b = sorted(mine), sorted(other)
        xa = tuple(mine[s] for s in seeds_a)
        xb = tuple(other[s] for s in seeds_b)
        out.append(Comparison(env, classes, xa, xb, difference(xa, xb, paired)))
    return out


@dataclass(frozen=True)
class Verdict:
    text: str  # holds / does not hold / inconclusive at this budget / not measured
    adjusted: list[float]  # per cell, Holm-adjusted p of the claim's test


def verdict(claim: Claim, cells: list[Comparison]) -> Verdict:
    if not cells:
        return Verdict("not measured", [])
    worse = holm([c.test.p_greater(0.0, lower=True) for c in cells])
    if claim.rule == "better everywhere":
        better = holm([c.test.p_greater(0.0) for c in cells])
        if any(p < ALPHA for p in worse):
            return Verdict("does not hold", better)
        if all(p < ALPHA for p in better):
            return Verdict("holds", better)
        return Verdict("inconclusive at this budget", better)
    # matches somewhere: in some cell A is shown above B or within the margin of it
    match = holm([min(c.test.p_greater(0.0), c.test.p_equivalent(c.margin)) for c in cells])
    if any(p < ALPHA for p in match):
        shown = [c for c, p in zip(cells, match, strict=True) if p < ALPHA]
        if all(c.at_ceiling for c in shown):
            return Verdict("holds only where both are at the ceiling", match)
        return Verdict("holds", match)
    far = holm([c.test.p_greater(-c.margin, lower=True) for c in cells])
    if all(p < ALPHA for p in far):
        return Verdict("does not hold", match)
    return Verdict("inconclusive at this budget", match)


def _p(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def cell_label(c: Comparison, adjusted: float, settle: bool, saturated: bool = False) -> str:
    classes = "" if c.classes is None else f", {c.classes} cl."
    ci = "" if math.isnan(c.ci[0]) else f" [{c.ci[0]:+.0f}, {c.ci[1]:+.0f}]"
    test = "paired" if c.test.paired else "Welch"
    detect = c.test.detectable()
    detect_text = "" if math.isnan(detect) else f", detectable ±{detect:.0f}"
    settle_text = ""
    if settle and not c.significant and c.tested and c.diff != 0:
        needed = c.seeds_to_settle()
        settle_text = (
            f", ~{needed} seeds would settle it"
            if needed
            else f", over {MAX_SEEDS:,} seeds would be needed to settle it"  # a tiny difference
        )
    ceiling_text = ", both at the ceiling" if c.at_ceiling else ""
    if saturated:
        ceiling_text += ", learned reward saturated"
    return (
        f"{c.env}{classes}: {c.diff:+.1f}{ci}, {test} p {_p(c.p)}, Holm p {_p(adjusted)} "
        f"(n {c.n_a}/{c.n_b}{detect_text}{settle_text}{ceiling_text})"
    )


def _touches(saturated: frozenset[tuple], c: Comparison, claim: Claim) -> bool:
    """Whether either side of a cell is a saturated cell (ppo has no class count)."""
    sides = [(c.env, None if m == "ppo" else c.classes, m) for m in (claim.a, claim.b)]
    return any(side in saturated for side in sides)


def claims_table(finals: Finals, measure: str, saturated: frozenset[tuple] = frozenset()) -> str:
    """The claims as a markdown table: claim | what was measured | verdict. `saturated`:
    the (env, classes, method) cells whose learned reward sat at its top class."""
    lines = [
        f"| claim | measured here: {measure} of A − B, 95 % CI, two-sided p (paired by seed "
        "or Welch), the claim's Holm-adjusted one-sided p, seeds A/B, the difference "
        "detectable at power 0.8 | verdict |",
        "|---|---|---|",
    ]
    for claim in CLAIMS:
        cells = compare(finals, claim.a, claim.b)
        result = verdict(claim, cells)
        settle = result.text == "inconclusive at this budget"
        measured = "<br>".join(
            cell_label(c, p, settle, _touches(saturated, c, claim))
            for c, p in zip(cells, result.adjusted, strict=True)
        )
        lines.append(f"| {claim.text} (A = {claim.a}, B = {claim.b}) | "
                     f"{measured or 'no trials of both methods'} | {result.text} |")  # fmt: skip
    return "\n".join(lines)
