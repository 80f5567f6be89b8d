"""A vector of one DMC task's envs, stepped in turn, for RLlib's EnvRunner.

What gymnasium's SyncVectorEnv over `envs.make_env` returns (next-step autoreset,
flat float32 observations, the raw observation in each info), computed without the
per-env wrapper stack, shimmy's per-step dict conversion or the merging and
splitting of info dicts: at 8 envs those took about a fifth of a sampling step
(cProfile, BENCHMARKS.md). Each env is still shimmy's dm_control env: shimmy
builds it, defines its spaces and seeds it on reset; a step calls the dm_control
env it wraps directly, with shimmy's reward and termination rules.
tests/test_sampler.py checks the two give identical episodes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from rbrl_ray.envs import (
    PHYSICS_STATE_KEY,
    RAW_OBS_KEY,
    flat_observation_space,
    shimmy_env,
)


class DmcVectorEnv(gym.vector.VectorEnv):
    """`num_envs` copies of one task; env i is seeded `seed + i` (as SyncVectorEnv)."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, name: str, num_envs: int, record_states: bool = False) -> None:
        self.envs = [shimmy_env(name) for _ in range(num_envs)]
        self.num_envs = num_envs
        self.record_states = record_states
        dict_space = self.envs[0].observation_space
        # FlattenObservation's order: the Dict space's keys, each flattened
        self._slices: list[tuple[str, slice]] = []
        start = 0
        for key, space in dict_space.spaces.items():
            size = int(np.prod(space.shape))
            self._slices.append((key, slice(start, start + size)))
            start += size
        self.single_observation_space = flat_observation_space(dict_space)
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._obs_dim = self.single_observation_space.shape[0]
        self._needs_reset = np.zeros(num_envs, dtype=bool)

    def _flatten(self, observation: dict[str, Any], out: np.ndarray) -> None:
        for key, where in self._slices:
            value = observation[key]
            # float64 -> float32 on assignment, as DtypeObservation casts
            out[where] = value.ravel() if np.ndim(value) > 1 else value

    def _infos(self, obs: np.ndarray) -> dict[str, Any]:
        # The vector info format; RLlib's DictInfoToList makes it one dict per env.
        every = np.ones(self.num_envs, dtype=bool)
        infos = {RAW_OBS_KEY: obs.copy(), f"_{RAW_OBS_KEY}": every}
        if self.record_states:
            states = [env._env.physics.get_state() for env in self.envs]
            infos[PHYSICS_STATE_KEY], infos[f"_{PHYSICS_STATE_KEY}"] = np.stack(states), every
        return infos

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        obs = np.empty((self.num_envs, self._obs_dim), dtype=np.float32)
        for i, (env, env_seed) in enumerate(zip(self.envs, seeds, strict=True)):
            observation, _ = env.reset(seed=env_seed, options=options)
            self._flatten(observation, obs[i])
        self._needs_reset[:] = False
        return obs, self._infos(obs)

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        n = self.num_envs
        obs = np.empty((n, self._obs_dim), dtype=np.float32)
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        for i, env in enumerate(self.envs):
            if self._needs_reset[i]:  # next-step autoreset: this step's action is ignored
                observation, _ = env.reset()
                self._flatten(observation, obs[i])
                continue
            timestep = env._env.step(actions[i])  # shimmy's step, without its dict copies
            self._flatten(timestep.observation, obs[i])
            rewards[i] = timestep.reward or 0
            if timestep.last():  # shimmy: a discount > 0 at the end is a time limit
                truncated[i] = timestep.discount > 0
                terminated[i] = not truncated[i]
        self._needs_reset = terminated | truncated
        return obs, rewards, terminated, truncated, self._infos(obs)

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()
