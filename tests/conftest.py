"""Shared fixtures: an in-process Ray instance per test module that needs one
(module-scoped, so a test that starts and stops its own Ray head finds none)."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# What the suite's own environment sets, before rbrl_ray's default (tests/user_env.py):
# the rendering tests must see what a user sees, so test_rating_page fails if it is set.
os.environ["RBRL_TEST_SUITE_MUJOCO_GL"] = os.environ.get("MUJOCO_GL", "")
import rbrl_ray  # noqa: E402, F401  (MUJOCO_GL=disable for the training path, as for users)

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()


@dataclass(frozen=True)
class SmallTrial:
    folder: Path
    run: subprocess.CompletedProcess


@pytest.fixture(scope="session")
def small_ours_trial(tmp_path_factory) -> SmallTrial:
    """One tiny `train` trial (ours, 3 classes, the small preset, 2,000 env steps, 20
    ratings), made once per session for the tests that read a trained trial; a test
    that changes it works on a copy. Iteration 1 explores: its row has no reward-model
    figures yet; queries are due at 1,500 and 2,000 steps."""
    folder = tmp_path_factory.mktemp("small_trial") / "trial"
    args = [
        *("--env", "cartpole-balance", "--method", "ours", "--classes", "3"),
        *("--timesteps", "2000", "--out", str(folder), *SMALL_TRIAL_SCHEDULE),
    ]
    run = subprocess.run(
        [sys.executable, "-m", "rbrl_ray.train", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return SmallTrial(folder, run)


SMALL_TRIAL_SCHEDULE = [
    *("--preset", "small", "--env-runners", "0", "--explore-steps", "1500"),
    *("--query-every", "500", "--per-query", "10", "--total-ratings", "30"),
]
