"""The six DMC tasks through shimmy: spaces, dtypes and episode length."""

import numpy as np
import pytest

from rbrl_ray.envs import TASK_NAMES, TASKS, get_task, make_env
from rbrl_ray.validation import ConfigError


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_creates_with_declared_flat_float32_spaces(name):
    task = TASKS[name]
    env = make_env({"env": name})
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (task.obs_dim,)
    assert env.action_space.shape == (task.act_dim,)
    assert obs.dtype == np.float32 and obs.shape == (task.obs_dim,)
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert 0.0 <= reward <= 1.0 and not terminated
    env.close()


def test_episode_is_truncated_after_1000_steps():
    env = make_env("cartpole-balance")
    env.reset(seed=0)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(np.zeros(1, np.float32))
        steps += 1
        done = terminated or truncated
    assert steps == 1000 and truncated and not terminated


def test_unknown_env_names_the_six():
    with pytest.raises(ConfigError) as err:
        get_task("cartpole-swingup")
    message = str(err.value)
    assert "cartpole-swingup" in message
    assert all(name in message for name in TASK_NAMES)
