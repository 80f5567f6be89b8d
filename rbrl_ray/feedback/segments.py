"""Fixed-length trajectory segments that keep their true per-step rewards."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SEGMENT_LENGTH = 50


@dataclass(frozen=True)
class Segments:
    """A batch of N segments of T steps: obs [N, T, obs_dim], act [N, T, act_dim],
    true_rewards [N, T], and where recorded the physics state at each observation,
    states [N, T, state_dim] (what rendering a segment for a person needs). The true
    rewards are for the rater and for evaluation only; no policy of a reward-model
    method ever sees them."""

    obs: np.ndarray
    act: np.ndarray
    true_rewards: np.ndarray
    states: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, t = self.true_rewards.shape
        shapes = [self.obs.shape[:2], self.act.shape[:2]]
        if self.states is not None:
            shapes.append(self.states.shape[:2])
        if any(shape != (n, t) for shape in shapes):
            raise ValueError(
                f"segment arrays disagree: obs {self.obs.shape}, act {self.act.shape}, "
                f"rewards {self.true_rewards.shape}"
                + ("" if self.states is None else f", states {self.states.shape}")
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
        states = None if self.states is None else self.states[index]
        return Segments(self.obs[index], self.act[index], self.true_rewards[index], states)

    @staticmethod
    def concat(parts: Sequence[Segments]) -> Segments:
        """One batch of `parts`, in order; states are kept when every non-empty part has
        them (an empty part, such as `Segments.empty`, takes no side)."""
        filled = [p for p in parts if len(p)] or list(parts[:1])
        with_states = bool(filled) and all(p.states is not None for p in filled)
        return Segments(
            np.concatenate([p.obs for p in parts]),
            np.concatenate([p.act for p in parts]),
            np.concatenate([p.true_rewards for p in parts]),
            np.concatenate([p.states for p in filled]) if with_states else None,
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
    states: np.ndarray | None = None,
) -> Segments:
    """Cut `count` segments of `length` steps at uniform random offsets from one episode.

    obs, act, rewards (and physics states, if given) are aligned per step ([L, ...]);
    an episode shorter than `length` yields no segment. Segments may overlap.
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
        None if states is None else states[window].astype(np.float32),  # enough to render
    )


def segment_ids(segments: Segments) -> list[str]:
    """A stable id per segment: a hash of its observations and actions, so the same
    segment has the same id in every store, session and restart (16 hex digits)."""
    return [
        hashlib.sha1(segments.obs[i].tobytes() + segments.act[i].tobytes()).hexdigest()[:16]
        for i in range(len(segments))
    ]


def ratings_digest(segments: Segments, labels: np.ndarray) -> str:
    """One hash of a rated data set (each segment's id and label, in order): equal
    digests mean a model was fit on exactly these ratings."""
    digest = hashlib.sha1()
    for sid, label in zip(segment_ids(segments), np.asarray(labels).tolist(), strict=True):
        digest.update(f"{sid}:{label};".encode())
    return digest.hexdigest()[:16]
