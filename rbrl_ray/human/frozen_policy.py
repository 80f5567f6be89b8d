"""A trained policy, frozen, from a checkpoint: its RLModule and the observation filter
it was trained with, without Ray or the learner.

RLlib's checkpoint keeps both as components: the learner's module under
learner_group/learner/rl_module/default_policy, the training EnvRunner's env-to-
module connector (the filter's merged statistics) under env_runner/. An episode
here normalises each observation with those statistics held still and takes the
policy's mean action (or a sample, `explore`), as the trial's evaluation does
(`rllib/evaluation.py`), recording the physics state at each step for rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rbrl_ray.validation import ConfigError

MODULE_PATH = Path("learner_group", "learner", "rl_module", "default_policy")
FILTER_PATH = Path("env_runner", "env_to_module_connector")


def is_checkpoint(path: Path) -> bool:
    return (path / "algorithm_state.pkl").exists() or (path / "rllib_checkpoint.json").exists()


def find_checkpoint(path: Path) -> Path:
    """`path` itself if it is a checkpoint; a `train --out` folder's checkpoint/; a Tune
    trial folder's newest checkpoint_NNNNNN/. ConfigError (one line) otherwise."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{path}: no such folder (give a trial folder or a checkpoint)")
    if is_checkpoint(path):
        return path
    if is_checkpoint(path / "checkpoint"):
        return path / "checkpoint"
    found = sorted(p for p in path.glob("checkpoint_*") if is_checkpoint(p))
    if found:
        return found[-1]
    raise ConfigError(f"{path}: no checkpoint in it (a trial folder or a checkpoint folder)")


@dataclass
class Episode:
    """One episode's steps: raw observation, action taken and true reward at each step
    ([T, ...]), and the physics state at each observation ([T + 1, state_dim]: the
    last is the state after the last step)."""

    obs: np.ndarray
    act: np.ndarray
    rewards: np.ndarray
    states: np.ndarray

    @property
    def true_return(self) -> float:
        return float(self.rewards.sum())


class FrozenPolicy:
    """The policy and observation filter of one checkpoint."""

    def __init__(self, checkpoint: Path) -> None:
        from ray.rllib.core.rl_module.rl_module import RLModule

        from rbrl_ray.rllib.observation_filter import read_filter

        self.checkpoint = Path(checkpoint).resolve()  # RLlib reads paths as URIs
        if not (self.checkpoint / MODULE_PATH).is_dir():
            raise ConfigError(f"{checkpoint}: no policy module in it ({MODULE_PATH})")
        self.module = RLModule.from_checkpoint(str(self.checkpoint / MODULE_PATH))
        self.module.eval()
        self._filter = None
        if (self.checkpoint / FILTER_PATH).is_dir():
            self._filter = read_filter(self.checkpoint / FILTER_PATH)

    @property
    def obs_dim(self) -> int:
        return int(self.module.observation_space.shape[0])

    def observe(self, obs: np.ndarray) -> np.ndarray:
        """The observation as the policy saw it in training (statistics not updated)."""
        from rbrl_ray.rllib.observation_filter import normalised

        return obs if self._filter is None else normalised(self._filter, obs)

    def act(self, obs: np.ndarray, explore: bool, space: Any) -> np.ndarray:
        """The action for one raw observation: the mean, or a sample if `explore`,
        clipped to the env's action bounds."""
        batch = {"obs": torch.as_tensor(self.observe(obs)[None], dtype=torch.float32)}
        with torch.no_grad():
            out = self.module.forward_inference(batch)
            dist = self.module.get_inference_action_dist_cls().from_logits(
                out["action_dist_inputs"]
            )
            action = (dist.sample() if explore else dist.to_deterministic().sample())[0]
        return np.clip(action.numpy(), space.low, space.high)

    def episode(
        self, env: Any, seed: int, explore: bool = False, steps: int | None = None
    ) -> Episode:
        """One episode (at most `steps` steps) on `env`, made with record_states."""
        from rbrl_ray.envs import PHYSICS_STATE_KEY

        obs, info = env.reset(seed=seed)
        observed, actions, rewards = [], [], []
        states, done = [info[PHYSICS_STATE_KEY]], False
        while not done and (steps is None or len(rewards) < steps):
            action = self.act(obs, explore, env.action_space)
            observed.append(obs)
            actions.append(action)
            obs, reward, terminated, truncated, info = env.step(action)
            rewards.append(float(reward))
            states.append(info[PHYSICS_STATE_KEY])
            done = terminated or truncated
        return Episode(
            np.asarray(observed, np.float32),
            np.asarray(actions, np.float32),
            np.asarray(rewards, np.float32),
            np.stack(states),
        )
