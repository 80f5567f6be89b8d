"""Shared fixtures: an in-process Ray instance per test module that needs one
(module-scoped, so a test that starts and stops its own Ray head finds none)."""

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "disable")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()
