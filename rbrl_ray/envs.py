"""Task registry for the six DeepMind Control tasks of the paper, and the env creator.

Each task is reached through shimmy's gymnasium wrapper, with the dict observation
flattened to one float32 vector. dm_control ends every episode after 1000 steps
(truncated, never terminated).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rbrl_ray.validation import known

EPISODE_LENGTH = 1000
MAX_EPISODE_RETURN = float(EPISODE_LENGTH)  # every step's reward is in [0, 1]


@dataclass(frozen=True)
class Task:
    """One DMC task: its short name, shimmy id and space sizes."""

    name: str
    obs_dim: int
    act_dim: int

    @property
    def gym_id(self) -> str:
        return f"dm_control/{self.name}-v0"


#: The per-env settings of the sweeps (rating ranges calibrated by
#: rbrl_ray/rating_boundaries.py, PPO overrides): a config's `env_settings`, by default
#: "envs.yaml" beside it; this shipped copy where none is (tune_configs/envs.yaml links to it).
DEFAULT_ENV_SETTINGS = "envs.yaml"
SHIPPED_ENV_SETTINGS = Path(__file__).resolve().parent / "configs" / DEFAULT_ENV_SETTINGS

TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("cartpole-balance", obs_dim=5, act_dim=1),
        Task("ball_in_cup-catch", obs_dim=8, act_dim=2),
        Task("finger-spin", obs_dim=9, act_dim=2),
        Task("cheetah-run", obs_dim=17, act_dim=6),
        Task("walker-walk", obs_dim=24, act_dim=6),
        Task("quadruped-walk", obs_dim=78, act_dim=12),
    )
}

TASK_NAMES: tuple[str, ...] = tuple(TASKS)


def get_task(name: str) -> Task:
    """The task called `name`, or a ConfigError listing the six."""
    return TASKS[known(name, TASK_NAMES, "env")]


RAW_OBS_KEY = "raw_obs"
#: info key of the MuJoCo physics state (qpos, qvel, act) at each observation, kept
#: when the env config asks for it (`record_states`): what rendering a segment needs.
PHYSICS_STATE_KEY = "physics_state"


class RawObservationInInfo(gym.Wrapper):
    """Copies each flat observation into info[RAW_OBS_KEY].

    RLlib's MeanStdFilter overwrites the observations stored in episodes with
    normalised ones; the reward model must see the raw observation (as in RbRL),
    whatever the normalisation statistics are at the time.
    """

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, RAW_OBS_KEY: obs}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, RAW_OBS_KEY: obs}


class PhysicsStateInInfo(gym.Wrapper):
    """Copies the physics state at each observation into info[PHYSICS_STATE_KEY]."""

    def _state(self) -> np.ndarray:
        return self.env.unwrapped._env.physics.get_state()

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, PHYSICS_STATE_KEY: self._state()}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, PHYSICS_STATE_KEY: self._state()}


def shimmy_env(name: str) -> gym.Env:
    """Shimmy's gymnasium env of task `name` (dict observations), without wrappers."""
    import shimmy  # noqa: F401  (registers the dm_control/ namespace in this process)

    return gym.make(get_task(name).gym_id, disable_env_checker=True).unwrapped


def flat_observation_space(dict_space: gym.spaces.Dict) -> gym.spaces.Box:
    """The space FlattenObservation then DtypeObservation(float32) give a dict space."""
    flat = gym.spaces.flatten_space(dict_space)
    with warnings.catch_warnings():  # the float64 -> float32 box cast is intended
        warnings.filterwarnings("ignore", message=".*precision lowered by casting")
        return gym.spaces.Box(low=flat.low, high=flat.high, shape=flat.shape, dtype=np.float32)


def make_env(config: Mapping[str, Any] | str) -> gym.Env:
    """Create one task's env; usable as an RLlib env creator in any worker process.

    `config` is a task name or a mapping with key "env" (RLlib passes its env_config)
    and optionally "record_states": keep each step's physics state in its info.
    """
    name = config if isinstance(config, str) else config["env"]
    get_task(name)  # a ConfigError for an unknown name, before anything is built
    import shimmy  # noqa: F401  (registers the dm_control/ namespace in this process)

    env: gym.Env = gym.make(get_task(name).gym_id, disable_env_checker=True)
    env = gym.wrappers.FlattenObservation(env)
    with warnings.catch_warnings():  # the float64 -> float32 box cast is intended
        warnings.filterwarnings("ignore", message=".*precision lowered by casting")
        env = gym.wrappers.DtypeObservation(env, np.float32)
    env = RawObservationInInfo(env)
    if not isinstance(config, str) and config.get("record_states"):
        env = PhysicsStateInInfo(env)
    return env


def task_of_observations(obs_dim: int) -> str:
    """The task whose flat observation has `obs_dim` entries (each of the six differs)."""
    names = [t.name for t in TASKS.values() if t.obs_dim == obs_dim]
    if len(names) != 1:
        raise ValueError(f"no single task has {obs_dim}-dimensional observations")
    return names[0]
