"""The rating-range rule of bench/rating_boundaries.py (no training here)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.rating_boundaries import histograms, rating_range

REPO = Path(__file__).resolve().parent.parent


def test_range_is_the_inner_quantiles_of_continuous_returns():
    returns = np.random.default_rng(0).uniform(0, 50, 2000)
    low, high = rating_range(returns, 0.1)
    assert (low, high) == tuple(np.quantile(returns, [0.1, 0.9]))
    shares = histograms(returns, low, high)[3]
    assert min(shares) > 0.2  # uniform returns: no class starves


def test_sparse_returns_take_the_range_above_the_floor():
    rng = np.random.default_rng(0)
    returns = np.concatenate([np.zeros(1700), rng.uniform(30, 50, 300)])  # ball_in_cup-like
    low, high = rating_range(returns, 0.1)
    above = returns[returns > 0]
    assert (low, high) == tuple(np.quantile(above, [0.1, 0.9]))
    plain = histograms(returns, *np.quantile(returns, [0.1, 0.9]))[3]
    floor = histograms(returns, low, high)[3]
    assert plain[1] < 0.02 < min(floor)  # the plain rule starves the middle class


def test_one_value_only_still_gives_a_range():
    low, high = rating_range(np.full(100, 3.0), 0.1)
    assert high > low == 3.0


def test_recompute_needs_a_record(tmp_path):
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "rating_boundaries.py"), "--env", "finger-spin",
         "--recompute", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and "--recompute: no record" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_committed_records_give_the_committed_ranges():
    """envs.yaml's calibrated ranges are what the records' returns give by the rule."""
    import yaml

    envs = yaml.safe_load((REPO / "tune_configs" / "envs.yaml").read_text())
    for path in sorted((REPO / "bench" / "results").glob("rating_boundaries_*.json")):
        record = json.loads(path.read_text())
        assert envs[record["env"]]["rating_range"] == record["rating_range"], path.name
