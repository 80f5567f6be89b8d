"""Shared fixtures: an in-process Ray for the modules that need one, and one small
trained trial for the tests that read one."""

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


@pytest.fixture(scope="session")
def _ray_for_the_session():
    """Shuts down at the session's end the in-process Ray that `ray_local` started."""
    import ray

    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_local(_ray_for_the_session):
    """A local Ray in this process (2 CPUs). The first module that asks starts it and
    later ones reuse it (a start costs ~8 s on 2 cores); a module that needs a Ray of
    its own shuts it down first (tests/test_desk_storage.py). What a test could leave
    behind that outlives its trial, the detached rating desk, is stopped after each
    module. Subprocesses never join it: a bare `ray.init()` joins only a cluster
    started with `ray start` or named by RAY_ADDRESS."""
    ray = _ray_for_the_session
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    from rbrl_ray.human.desk_service import stop_desk

    if ray.is_initialized():
        stop_desk()


SMALL_TRIAL_SCHEDULE = [
    *("--preset", "small", "--env-runners", "0", "--explore-steps", "1500"),
    *("--query-every", "500", "--per-query", "10", "--total-ratings", "30"),
]


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
