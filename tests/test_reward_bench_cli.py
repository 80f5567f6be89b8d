"""reward_bench end to end: bad input is one line and exit 2; a small real run writes JSON."""

import json
import subprocess
import sys

import pytest

from rbrl_ray.envs import TASK_NAMES
from rbrl_ray.methods import REWARD_METHODS


def _bench(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "rbrl_ray.reward_bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "args, names",
    [
        (["--env", "pong"], ["'pong'", *TASK_NAMES]),
        (["--classes", "11"], ["classes must be 2..10", "11"]),
        (["--classes", "1"], ["classes must be 2..10"]),
        (["--ratings", "0"], ["ratings must be >= 1", "0"]),
        (["--methods", "ours,dpo"], ["'dpo'", *REWARD_METHODS]),
        (
            ["--noise", "mistake=0.1", "--noise", "temp=2"],
            ["'temp=2'", "mistake=", "beta=", "skip="],
        ),
        (["--noise", "skip=1.5"], ["skip"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, names):
    result = _bench(*args, "--json", "/nonexistent/never-written.json", timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rbrl_ray.reward_bench: error:")
    for name in names:
        assert name in lines[0]
    assert "Traceback" not in result.stderr and "collect" not in result.stderr


@pytest.mark.slow
def test_small_real_run_writes_the_documented_json(tmp_path):
    out = tmp_path / "bench.json"
    result = _bench(
        "--env",
        "cartpole-balance",
        "--classes",
        "3",
        "--ratings",
        "120",
        "--heldout",
        "60",
        "--methods",
        "ours,rbrl",
        "--max-epochs",
        "3",
        "--noise",
        "mistake=0.05",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["env"] == "cartpole-balance" and data["classes"] == 3
    assert sum(data["rated_histogram"]) == 120 and sum(data["heldout_histogram"]) == 60
    assert set(data["methods"]) == {"ours", "rbrl"}
    ours, rbrl = data["methods"]["ours"], data["methods"]["rbrl"]
    for row in (ours, rbrl):
        assert 0.0 <= row["accuracy"] <= 1.0 and -1.0 <= row["pearson"] <= 1.0
        assert -1.0 <= row["spearman"] <= 1.0 and row["fit_seconds"] > 0
    assert ours["sigma_cls"] > 0 and ours["sigma_reg"] > 0
    assert rbrl["sigma_cls"] is None and rbrl["sigma_reg"] is None
    assert "held-out acc" in result.stdout and "rated    (120)" in result.stdout


@pytest.mark.slow
def test_single_class_heldout_is_called_degenerate_and_exits_2(tmp_path):
    # Scripted behaviours never spin the finger: every segment is class 0 of 2.
    out = tmp_path / "never.json"
    result = _bench(
        "--env",
        "finger-spin",
        "--classes",
        "2",
        "--ratings",
        "20",
        "--heldout",
        "20",
        "--json",
        str(out),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 1 and "degenerate benchmark" in lines[-1] and "[20, 0]" in lines[-1]
    assert not out.exists()


@pytest.mark.slow
def test_a_persons_rated_store_is_fit_and_compared_with_the_synthetic_rater(tmp_path):
    import numpy as np

    from rbrl_ray.feedback.rater import RaterConfig, SyntheticRater
    from rbrl_ray.feedback.scripted import collect_segments
    from rbrl_ray.feedback.store import RatedStore

    segments = collect_segments("cartpole-balance", 90, seed=5, physics_states=True)
    exact = SyntheticRater(RaterConfig(n_classes=3)).exact_classes(segments.true_returns)
    person = exact.copy()
    person[:9] = (person[:9] + 1) % 3  # the person disagrees with the bins on 9 of 90
    notes = {"annotator": np.array(["ada"] * 90), "rated_at": np.arange(90.0),
             "response_s": np.ones(90)}  # fmt: skip
    RatedStore(tmp_path / "rated").append(segments, person, notes)
    (tmp_path / "rated" / "ratings_000001.npz").write_bytes(b"cut")  # a damaged file

    refused = _bench("--rated-store", str(tmp_path / "rated"), "--classes", "3", timeout=120)
    assert refused.returncode == 2 and "ratings_000001.npz: damaged" in refused.stderr
    out = tmp_path / "bench.json"
    result = _bench("--rated-store", str(tmp_path / "rated"), "--classes", "3", "--heldout",
                    "60", "--methods", "ours", "--max-epochs", "2", "--json", str(out),
                    "--skip-damaged")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "skipped damaged" in result.stderr and "ratings_000001.npz" in result.stderr
    data = json.loads(out.read_text())
    assert data["env"] == "cartpole-balance" and data["ratings"] == 90  # task from the store
    assert data["agreement_with_synthetic"] == pytest.approx(81 / 90)
    assert data["rated_histogram"] == np.bincount(person, minlength=3).tolist()

    too_few = _bench("--rated-store", str(tmp_path / "rated"), "--classes", "2", "--skip-damaged",
                     timeout=120)  # fmt: skip
    assert too_few.returncode == 2 and "--classes 2 allows 0..1" in too_few.stderr
    empty = _bench("--rated-store", str(tmp_path / "none"), "--classes", "3", timeout=120)
    assert empty.returncode == 2 and "no ratings_*.npz" in empty.stderr
