"""Shared fixtures: one in-process Ray instance for the tests that need it."""

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "disable")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="session")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()
