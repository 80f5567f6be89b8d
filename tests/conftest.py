"""Shared fixtures: an in-process Ray instance per test module that needs one
(module-scoped, so a test that starts and stops its own Ray head finds none)."""

import os

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
