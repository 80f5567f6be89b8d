"""The rating-range rule of rbrl_ray/rating_boundaries.py (no training here)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from rbrl_ray.rating_boundaries import histograms, rating_range

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
        [sys.executable, "-m", "rbrl_ray.rating_boundaries", "--env", "finger-spin",
         "--recompute", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and "--recompute: no record" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_committed_records_give_the_committed_ranges():
    """envs.yaml's calibrated ranges are what the records' returns give by the rule."""
    import yaml

    envs = yaml.safe_load((REPO / "tune_configs" / "envs.yaml").read_text())
    for path in sorted((REPO / "results" / "rating_boundaries").glob("rating_boundaries_*.json")):
        record = json.loads(path.read_text())
        assert envs[record["env"]]["rating_range"] == record["rating_range"], path.name


def _pilot_store(root: Path, returns_per_query: list[np.ndarray]) -> Path:
    """A trial's ratings folder whose rater was shown segments of these returns."""
    from rbrl_ray.feedback.segments import Segments
    from rbrl_ray.feedback.store import new_lineage

    store = new_lineage(root / "ratings", "pilot")
    for query, returns in enumerate(returns_per_query):
        rewards = np.repeat(returns[:, None] / 50, 50, axis=1)  # 50 steps sum to the return
        n = len(returns)
        segments = Segments(np.zeros((n, 50, 2), np.float32), np.zeros((n, 50, 1)), rewards)
        store.append(segments, np.zeros(n, np.int64), queries=query)
    return root / "ratings"


def test_a_pilot_trial_gives_stage_two_and_keeps_stage_one(tmp_path):
    """--pilot: the range from the returns a real trial's rater was shown; the record
    keeps the PPO stage and says what the pilot's range did to its classes."""
    from rbrl_ray.rating_boundaries import main

    rng = np.random.default_rng(1)
    ppo = np.concatenate([np.zeros(1950), rng.uniform(2, 14, 50)])  # finger-spin-like PPO
    stage1 = {"env": "finger-spin", "seed": 0, "quantile": 0.1, "rating_range": [6.0, 14.0],
              "histograms": {"3": [0.99, 0.005, 0.005]},
              "returns_per_query": [ppo.tolist()]}  # fmt: skip
    (tmp_path / "rating_boundaries_finger-spin.json").write_text(json.dumps(stage1))
    shown = [np.concatenate([np.zeros(150), rng.integers(1, 10, 50).astype(float)])
             for _ in range(4)]  # fmt: skip
    trial = tmp_path / "finger-spin_ours_c3_s0_abc"
    ratings = _pilot_store(trial, shown)

    assert main(["--env", "finger-spin", "--pilot", str(ratings), "--out", str(tmp_path)]) == 0

    record = json.loads((tmp_path / "rating_boundaries_finger-spin.json").read_text())
    returns = np.concatenate(shown)
    assert record["rating_range"] == [round(v, 3) for v in rating_range(returns, 0.1)]
    assert record["segments"] == 800 and len(record["returns_per_query"]) == 4
    assert record["stage1"]["rating_range"] == [6.0, 14.0] and record["pilot"] == trial.name
    at_stage1 = np.mean(returns < 6 + 8 / 3)  # class 0 of 3 equal bins over [6, 14]
    assert record["pilot_histogram"][0] == round(float(at_stage1), 4)
    assert min(record["histograms"]["3"]) >= 0.02 > min(record["pilot_histogram"])
    again = main(["--env", "finger-spin", "--recompute", "--out", str(tmp_path)])
    assert again == 0
    recomputed = json.loads((tmp_path / "rating_boundaries_finger-spin.json").read_text())
    assert recomputed["stage1"] == record["stage1"] and recomputed["pilot"] == trial.name


def test_pilot_without_ratings_is_one_line(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "rbrl_ray.rating_boundaries", "--env", "finger-spin",
         "--pilot", str(tmp_path / "nothing"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "--pilot:" in run.stderr


def test_committed_pages_are_what_their_records_give():
    from rbrl_ray.rating_boundaries import markdown

    for path in sorted((REPO / "results" / "rating_boundaries").glob("rating_boundaries_*.json")):
        record = json.loads(path.read_text())
        assert path.with_suffix(".md").read_text() == markdown(record) + "\n", path.name


def test_headroom_is_the_last_querys_share_above_the_top_for_ppo_and_the_pilot():
    """Segments above the range are all top class: their share at the last query says
    how soon a learned reward runs out of distinctions (cheetah-run: 55.5 % of PPO's)."""
    from rbrl_ray.rating_boundaries import above_range, markdown

    ppo = {"rating_range": [0.0, 10.0], "returns_per_query": [[1, 2, 3], [5, 11, 12, 20]]}
    assert above_range(ppo) == {"ppo": 0.75}  # the last query only
    stage2 = {"rating_range": [0.0, 4.0], "stage1": ppo,
              "returns_per_query": [[1, 2], [3, 4.5, 6, 1]]}  # fmt: skip
    assert above_range(stage2) == {"ppo": 1.0, "pilot": 0.5}
    cheetah = json.loads(
        (REPO / "results" / "rating_boundaries" / "rating_boundaries_cheetah-run.json").read_text()
    )
    assert "55.5 % of true-reward PPO's segments, 14.5 % of the pilot's" in markdown(cheetah)
