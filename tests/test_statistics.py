"""rbrl_ray/report/statistics.py against scipy and hand-worked values."""

import math

import numpy as np
import pytest
from scipy import stats

from rbrl_ray.report.statistics import (
    difference,
    holm,
    iqm,
    performance_profile,
    probability_of_improvement,
    seeds_needed,
    stratified_bootstrap,
)

A = [980.0, 960.0, 990.0, 970.0, 975.0]
B = [940.0, 955.0, 930.0, 962.0, 950.0]


def test_paired_and_unpaired_tests_are_scipys():
    paired = difference(A, B, paired=True)
    assert paired.diff == pytest.approx(np.mean(A) - np.mean(B))
    assert paired.p_two_sided() == pytest.approx(stats.ttest_rel(A, B).pvalue)
    assert paired.p_greater(0) == pytest.approx(stats.ttest_rel(A, B, alternative="greater").pvalue)
    welch = difference(A, B, paired=False)
    assert welch.p_two_sided() == pytest.approx(stats.ttest_ind(A, B, equal_var=False).pvalue)
    low, high = welch.interval()
    ci = stats.ttest_ind(A, B, equal_var=False).confidence_interval()
    assert (low, high) == pytest.approx((ci.low, ci.high))
    with pytest.raises(ValueError, match="differ in length"):
        difference(A, B[:3], paired=True)


def test_equivalence_needs_the_whole_interval_inside_the_margin():
    near = difference([970.0, 975.0, 972.0, 968.0], [971.0, 973.0, 970.0, 969.0], paired=True)
    assert near.p_equivalent(margin=20) < 0.01  # within ±20 of each other
    assert near.p_equivalent(margin=0.5) > 0.05  # ... but not shown within ±0.5
    far = difference(A, B, paired=True)  # 27.6 apart
    assert far.p_equivalent(margin=10) > 0.5
    # TOST's p is the larger of the two one-sided p's
    assert far.p_equivalent(10) == max(far.p_greater(-10), far.p_greater(10, lower=True))


def test_too_few_seeds_are_untested_not_significant():
    one = difference([1.0], [2.0], paired=False)
    assert not one.tested and math.isnan(one.p_two_sided()) and math.isnan(one.detectable())
    assert seeds_needed([1.0], [2.0], paired=False) is None


def test_detectable_difference_and_seeds_needed_agree():
    d = difference(A, B, paired=True)
    # (t_.975,4 + t_.8,4) · se
    expected = (stats.t.ppf(0.975, 4) + stats.t.ppf(0.8, 4)) * d.se
    assert d.detectable() == pytest.approx(expected)
    a, b = [1.0, 3.0, 2.0, 4.0], [1.0, 2.0, 1.5, 3.0]
    n = seeds_needed(a, b, paired=False)
    assert n is not None and n > 4  # 0.625 apart at sd ~1.1: more seeds than run
    spread = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)

    def detectable_at(k):
        t = stats.t.ppf(0.975, 2 * k - 2) + stats.t.ppf(0.8, 2 * k - 2)
        return t * spread * math.sqrt(2 / k)

    assert detectable_at(n) <= 0.625 < detectable_at(n - 1)
    assert seeds_needed(a, a, paired=False) is None  # no effect to detect


def test_holm_steps_down_and_keeps_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.2, math.nan, 0.001])
    assert adjusted[0] == pytest.approx(0.2) and math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.002)


def test_iqm_probability_of_improvement_and_bootstrap():
    x = {"a": np.arange(1.0, 9.0), "b": np.array([0.5, 0.6])}
    assert iqm({"a": np.arange(1.0, 9.0)}) == pytest.approx(4.5)  # mean of 3..6
    better = {"a": x["a"] + 100, "b": x["b"] + 100}
    assert probability_of_improvement(better, x) == 1.0
    assert probability_of_improvement(x, x) == pytest.approx(0.5)
    point, low, high = stratified_bootstrap(iqm, [x], reps=500)
    assert low <= point <= high and high > low
    assert stratified_bootstrap(iqm, [x], reps=500) == (point, low, high)  # seeded
    profile = performance_profile(x, np.array([0.0, 4.0, 100.0]))
    assert profile.tolist() == [1.0, 0.4, 0.0]  # 10 runs: all, 4 (5..8), none
