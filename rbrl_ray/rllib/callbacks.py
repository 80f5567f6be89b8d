"""Callbacks: segments out of the EnvRunners, handles to recreated ones, metrics in."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.callbacks.callbacks import RLlibCallback

from rbrl_ray import metric_names as m
from rbrl_ray.rllib.episodes import segments_from_episodes
from rbrl_ray.rllib.keys import SERVICE_ATTR


class RatingCallbacks(RLlibCallback):
    def __init__(self) -> None:
        super().__init__()
        self._rng: np.random.Generator | None = None

    def on_sample_end(self, *, env_runner: Any = None, samples: Any = None, **kwargs: Any) -> None:
        """Send the sampled episodes' segments (true rewards intact) to the service."""
        if env_runner is None or env_runner.config.in_evaluation:
            return
        service = getattr(env_runner, SERVICE_ATTR, None)
        if service is None:
            return
        if self._rng is None:
            self._rng = np.random.default_rng(
                [env_runner.config.seed or 0, env_runner.worker_index or 0]
            )
        segments = segments_from_episodes(list(samples), self._rng)
        if segments is not None:
            service.add_segments.remote(segments)

    def on_env_runners_recreated(
        self, *, algorithm: Any, env_runner_indices: list[int], is_evaluation: bool, **kwargs: Any
    ) -> None:
        if not is_evaluation:
            algorithm.attach_env_runners(env_runner_indices)

    def on_train_result(self, *, algorithm: Any, result: dict, **kwargs: Any) -> None:
        algorithm.advance_ratings(result)
        # Ray sets OMP_NUM_THREADS to the trial's CPUs under Tune; recorded, not assumed.
        result[m.TORCH_THREADS] = torch.get_num_threads()
