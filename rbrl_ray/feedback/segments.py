"""Fixed-length trajectory segments that keep their true per-step rewards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SEGMENT_LENGTH = 50


@dataclass(frozen=True)
class Segments:
    """A batch of N segments of T steps: obs [N, T, obs_dim], act [N, T, act_dim],
    true_rewards [N, T]. The true rewards are for the rater and for evaluation only;
    no policy of a reward-model method ever sees them."""

    obs: np.ndarray
    act: np.ndarray
    true_rewards: np.ndarray

    def __post_init__(self) -> None:
        n, t = self.true_rewards.shape
        if self.obs.shape[:2] != (n, t) or self.act.shape[:2] != (n, t):
            raise ValueError(
                f"segment arrays disagree: obs {self.obs.shape}, act {self.act.shape}, "
                f"rewards {self.true_rewards.shape}"
            )

    def __len__(self) -> int:
        return self.true_rewards.shape[0]

    @property
    def length(self) -> int:
        return self.true_rewards.shape[1]

    @property
    def true_returns(self) -> np.ndarray:
        """Sum of the true reward over each segment, [N]."""
        return self.true_rewards.sum(axis=1)

    def take(self, index: np.ndarray | slice) -> Segments:
        return Segments(self.obs[index], self.act[index], self.true_rewards[index])

    @staticmethod
    def concat(parts: Sequence[Segments]) -> Segments:
        return Segments(
            np.concatenate([p.obs for p in parts]),
            np.concatenate([p.act for p in parts]),
            np.concatenate([p.true_rewards for p in parts]),
        )

    @staticmethod
    def empty(obs_dim: int, act_dim: int, length: int = SEGMENT_LENGTH) -> Segments:
        return Segments(
            np.zeros((0, length, obs_dim), np.float32),
            np.zeros((0, length, act_dim), np.float32),
            np.zeros((0, length), np.float32),
        )


def cut_segments(
    obs: np.ndarray,
    act: np.ndarray,
    rewards: np.ndarray,
    count: int,
    rng: np.random.Generator,
    length: int = SEGMENT_LENGTH,
) -> Segments:
    """Cut `count` segments of `length` steps at uniform random offsets from one episode.

    obs, act and rewards are aligned per step ([L, ...]); an episode shorter than
    `length` yields no segment. Segments may overlap.
    """
    steps = len(rewards)
    if steps < length or count <= 0:
        return Segments.empty(obs.shape[-1], act.shape[-1], length)
    starts = rng.integers(0, steps - length + 1, size=count)
    window = starts[:, None] + np.arange(length)[None, :]
    return Segments(
        obs[window].astype(np.float32),
        act[window].astype(np.float32),
        rewards[window].astype(np.float32),
    )
