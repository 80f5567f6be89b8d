"""The claims table's statistics and verdict rules."""

import math

import numpy as np
import pytest
from scipy import stats

from rbrl_ray.report.claims import CLAIMS, Comparison, compare, verdict, welch

BETTER = CLAIMS[0]  # ours beats rbrl everywhere
MATCHES = CLAIMS[1]  # ours matches or beats ppo somewhere


def test_welch_matches_scipy_and_its_interval_covers_the_difference():
    a, b = [900.0, 950.0, 870.0, 990.0], [500.0, 620.0, 480.0]
    diff, (low, high), p = welch(a, b)
    assert diff == pytest.approx(np.mean(a) - np.mean(b))
    assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert low < diff < high and low > 0  # clearly apart: the interval excludes 0
    assert p < 0.05


def test_one_seed_gives_no_test():
    diff, ci, p = welch([1.0], [0.0, 2.0])
    assert diff == 0.0 and math.isnan(p) and math.isnan(ci[0])


def cell(diff, p, classes=3):
    return Comparison("cartpole-balance", classes, 3, 3, 0.0, 0.0, diff, (0.0, 0.0), p)


@pytest.mark.parametrize(
    "cells, expected",
    [
        ([cell(+50, 0.01), cell(+30, 0.04, classes=4)], "holds"),
        ([cell(+50, 0.01), cell(+30, 0.20, classes=4)], "inconclusive at this budget"),
        ([cell(+50, 0.01), cell(-30, 0.01, classes=4)], "does not hold"),
        ([], "not measured"),
    ],
)
def test_better_everywhere_needs_every_cell(cells, expected):
    assert verdict(BETTER, cells) == expected


@pytest.mark.parametrize(
    "cells, expected",
    [
        ([cell(-400, 0.001), cell(+5, 0.9, classes=4)], "holds"),
        ([cell(-400, 0.001), cell(-300, 0.01, classes=4)], "does not hold"),
        ([cell(-400, 0.001), cell(-30, 0.4, classes=4)], "inconclusive at this budget"),
        # one seed a side: no test, so a mean above B's is no match
        ([cell(-400, 0.001), cell(+40, math.nan, classes=4)], "inconclusive at this budget"),
    ],
)
def test_matches_somewhere(cells, expected):
    assert verdict(MATCHES, cells) == expected


def test_ppo_stands_in_every_class_count_of_its_env():
    finals = {
        ("cartpole-balance", None, "ppo"): [900.0, 950.0],
        ("cartpole-balance", 2, "ours"): [800.0, 850.0],
        ("cartpole-balance", 4, "ours"): [700.0, 750.0],
        ("walker-walk", 4, "ours"): [100.0, 120.0],  # no ppo on walker: no cell
    }
    cells = compare(finals, "ours", "ppo")
    assert [(c.env, c.classes) for c in cells] == [("cartpole-balance", 2), ("cartpole-balance", 4)]
    assert [c.diff for c in cells] == [-100.0, -200.0]
