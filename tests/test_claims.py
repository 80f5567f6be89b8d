"""The claims table's statistics and verdict rules (rbrl_ray/report/claims.py)."""

import pytest
from scipy import stats

from rbrl_ray.report.claims import CLAIMS, MARGIN, claims_table, compare, verdict

BETTER = CLAIMS[0]  # ours beats rbrl everywhere
MATCHES = CLAIMS[1]  # ours matches or beats ppo somewhere


def seeds(*values):
    return dict(enumerate(values))


def test_reward_methods_pair_by_seed_and_ppo_is_compared_unpaired():
    finals = {
        ("cartpole-balance", 3, "ours"): seeds(900.0, 950.0, 870.0),
        ("cartpole-balance", 3, "rbrl"): seeds(880.0, 925.0, 850.0),
        ("cartpole-balance", None, "ppo"): seeds(990.0, 995.0, 985.0),
    }
    (paired,) = compare(finals, "ours", "rbrl")
    assert paired.test.paired
    assert paired.p == pytest.approx(stats.ttest_rel([900, 950, 870], [880, 925, 850]).pvalue)
    (welch,) = compare(finals, "ours", "ppo")
    assert not welch.test.paired
    expected = stats.ttest_ind([900, 950, 870], [990, 995, 985], equal_var=False).pvalue
    assert welch.p == pytest.approx(expected)
    # different seeds: no pairs, so Welch even between reward methods
    finals[("cartpole-balance", 3, "rbrl")] = {5: 880.0, 6: 925.0, 7: 850.0}
    assert not compare(finals, "ours", "rbrl")[0].test.paired


def test_ppo_stands_in_every_class_count_of_its_env():
    finals = {
        ("cartpole-balance", None, "ppo"): seeds(900.0, 950.0),
        ("cartpole-balance", 2, "ours"): seeds(800.0, 850.0),
        ("cartpole-balance", 4, "ours"): seeds(700.0, 750.0),
        ("walker-walk", 4, "ours"): seeds(100.0, 120.0),  # no ppo on walker: no cell
    }
    cells = compare(finals, "ours", "ppo")
    assert [(c.env, c.classes) for c in cells] == [("cartpole-balance", 2), ("cartpole-balance", 4)]
    assert [c.diff for c in cells] == [-100.0, -200.0]


def _cells(rule_pairs):
    """Cells of ours against rbrl, one class count per (ours, rbrl) pair of seed lists."""
    finals = {}
    for classes, (ours, rbrl) in enumerate(rule_pairs, start=2):
        finals[("cartpole-balance", classes, "ours")] = seeds(*ours)
        finals[("cartpole-balance", classes, "rbrl")] = seeds(*rbrl)
    return compare(finals, "ours", "rbrl")


CLEARLY_ABOVE = ([900.0, 910.0, 905.0, 915.0], [500.0, 512.0, 505.0, 508.0])
NOISY = ([900.0, 450.0, 700.0, 350.0], [600.0, 650.0, 500.0, 550.0])
CLEARLY_BELOW = ([500.0, 512.0, 505.0, 508.0], [900.0, 910.0, 905.0, 915.0])


@pytest.mark.parametrize(
    "pairs, expected",
    [
        ([CLEARLY_ABOVE, CLEARLY_ABOVE], "holds"),
        ([CLEARLY_ABOVE, NOISY], "inconclusive at this budget"),
        ([CLEARLY_ABOVE, CLEARLY_BELOW], "does not hold"),
        ([], "not measured"),
    ],
)
def test_better_everywhere_needs_every_cell_after_holm(pairs, expected):
    assert verdict(BETTER, _cells(pairs)).text == expected


def test_holm_can_turn_a_lone_significant_cell_inconclusive():
    # one-sided p ≈ 0.03 in each of two cells: significant alone, not as a family of 2
    a, b = [10.0, 12.0, 16.0], [8.0, 9.0, 11.0]
    (cell,) = _cells([(a, b)])
    assert 0.025 < cell.test.p_greater(0.0) < 0.05
    assert verdict(BETTER, [cell]).text == "holds"
    assert verdict(BETTER, [cell, cell]).text == "inconclusive at this budget"


def _ppo_cells(ours_by_classes, ppo):
    finals = {("cartpole-balance", None, "ppo"): seeds(*ppo)}
    for classes, ours in ours_by_classes.items():
        finals[("cartpole-balance", classes, "ours")] = seeds(*ours)
    return compare(finals, "ours", "ppo")


PPO = [890.0, 895.0, 885.0, 892.0]


@pytest.mark.parametrize(
    "ours, expected",
    [
        # within MARGIN (10 %, ±89) of ppo's mean, tightly: shown equivalent
        ({3: [880.0, 885.0, 890.0, 875.0]}, "holds"),
        # far below in every cell, beyond the margin
        ({2: [500.0, 510.0, 505.0, 498.0], 3: [600.0, 610.0, 590.0, 605.0]}, "does not hold"),
        # far below in one, unknown in the other
        ({2: [500.0, 510.0, 505.0, 498.0], 3: [890.0, 300.0, 880.0, 500.0]},
         "inconclusive at this budget"),
    ],
)  # fmt: skip
def test_match_needs_a_cell_shown_within_the_margin_or_above(ours, expected):
    assert MARGIN == 0.10
    assert verdict(MATCHES, _ppo_cells(ours, PPO)).text == expected


def test_a_match_shown_only_where_both_are_at_the_ceiling_says_so():
    # both ≥ 95 % of the maximum return (950): the task cannot tell them apart
    saturated = [990.0, 995.0, 985.0, 992.0]
    cells = _ppo_cells({3: [980.0, 985.0, 990.0, 975.0]}, saturated)
    assert cells[0].at_ceiling
    assert verdict(MATCHES, cells).text == "holds only where both are at the ceiling"
    # a match below the ceiling in another cell: a plain "holds"
    finals = {
        ("cartpole-balance", None, "ppo"): seeds(*saturated),
        ("cartpole-balance", 3, "ours"): seeds(980.0, 985.0, 990.0, 975.0),
        ("walker-walk", None, "ppo"): seeds(*PPO),
        ("walker-walk", 3, "ours"): seeds(880.0, 885.0, 890.0, 875.0),
    }
    assert verdict(MATCHES, compare(finals, "ours", "ppo")).text == "holds"
    table = claims_table(finals, "final evaluation return")
    row = next(line for line in table.splitlines() if line.startswith("| Ours can match"))
    assert row.count("both at the ceiling") == 1  # cartpole's cell, not walker's


def test_the_table_names_the_test_the_holm_p_and_the_seeds_that_would_settle_it():
    finals = {
        ("cartpole-balance", 3, "ours"): seeds(*NOISY[0]),
        ("cartpole-balance", 3, "rbrl"): seeds(*NOISY[1]),
    }
    table = claims_table(finals, "final evaluation return")
    row = next(line for line in table.splitlines() if line.startswith("| Ours beats RbRL"))
    assert "paired p " in row and "Holm p " in row and "detectable ±" in row
    assert "seeds would settle it" in row and row.endswith("| inconclusive at this budget |")


def test_a_difference_too_small_for_any_practical_number_of_seeds_says_so():
    """cheetah-run in campaign v2, seeds 0-2: ours − rbrl +9.4 with a paired spread near
    250 needs thousands of seeds; the cell says so rather than staying silent."""
    finals = {
        ("cheetah-run", 3, "ours"): seeds(500.0, 200.0, 700.0),
        ("cheetah-run", 3, "rbrl"): seeds(480.0, 430.0, 450.0),
    }
    table = claims_table(finals, "final evaluation return")
    row = next(line for line in table.splitlines() if line.startswith("| Ours beats RbRL"))
    assert "over 1,000 seeds would be needed to settle it" in row
    assert "~" not in row.split("detectable")[1]


def test_only_cells_with_a_saturated_side_are_marked():
    finals = {
        ("cheetah-run", None, "ppo"): seeds(700.0, 720.0, 740.0),
        ("cheetah-run", 3, "ours"): seeds(450.0, 460.0, 470.0),
        ("walker-walk", None, "ppo"): seeds(880.0, 860.0, 900.0),
        ("walker-walk", 3, "ours"): seeds(540.0, 520.0, 560.0),
    }
    saturated = frozenset({("cheetah-run", 3, "ours")})
    table = claims_table(finals, "final evaluation return", saturated)
    row = next(line for line in table.splitlines() if line.startswith("| Ours can match"))
    cheetah, walker = row.split("<br>")
    assert "learned reward saturated" in cheetah and "learned reward saturated" not in walker
