"""A callback that keeps the true returns of the segments of each training rollout."""

from __future__ import annotations

from typing import Any

import numpy as np

from rbrl_ray.rllib.callbacks import RatingCallbacks
from rbrl_ray.rllib.episodes import segments_from_episodes

ATTR = "_segment_returns"


class SegmentReturns(RatingCallbacks):
    """RatingCallbacks that also keep, on each training EnvRunner, the true returns
    of the 50-step segments cut from its rollouts, as the rating service is sent them."""

    def on_sample_end(self, *, env_runner: Any = None, samples: Any = None, **kwargs: Any) -> None:
        super().on_sample_end(env_runner=env_runner, samples=samples, **kwargs)
        if env_runner is None or env_runner.config.in_evaluation:
            return
        if self._rng is None:
            seed = [env_runner.config.seed or 0, env_runner.worker_index or 0]
            self._rng = np.random.default_rng(seed)
        segments = segments_from_episodes(list(samples), self._rng)
        if segments is not None:
            kept = getattr(env_runner, ATTR, [])
            setattr(env_runner, ATTR, [*kept, segments.true_returns])


def take_returns(algo: Any) -> np.ndarray:
    """The returns the training EnvRunners kept since the last call (and forget them)."""

    def take(env_runner: Any) -> list[np.ndarray]:
        kept = getattr(env_runner, ATTR, None) or []
        setattr(env_runner, ATTR, [])
        return kept

    remote = algo.env_runner_group.num_remote_env_runners() > 0
    parts = algo.env_runner_group.foreach_env_runner(take, local_env_runner=not remote)
    return np.concatenate([a for kept in parts for a in kept])
