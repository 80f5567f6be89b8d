"""Lean EnvRunner connector pieces: RLlib's arithmetic, without its per-item machinery.

At 32 envs per EnvRunner, RLlib's connector pipelines took 29 % of sampling
(py-spy, BENCHMARKS.md): MeanStdFilter pushes each observation through
`tree.map_structure` and two `RunningStat.push` calls with copies and checks, and
the module-to-env pipeline splits every output column into per-env items, deep-
copies the actions to unsquash them one by one, and lists them back together.
These pieces compute the same numbers (tests/test_connectors.py checks the
sampled episodes are identical) with one numpy expression per vector step where
the maths allows it, and one short loop where it is sequential (running stats).
`ppo.env_runner_connectors: rllib` keeps RLlib's own pieces.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.env_to_module import MeanStdFilter
from ray.rllib.connectors.module_to_env import GetActions, TensorToNumpy
from ray.rllib.core import Columns
from ray.rllib.utils.filter import RunningStat
from ray.rllib.utils.numpy import SMALL_NUMBER


def push(stats: RunningStat, x: np.ndarray) -> None:
    """RunningStat.push (Welford's update) without its copy and shape check."""
    stats.num_pushes += 1
    stats.num_pushes_delta += 1
    if stats.num_pushes == 1:
        stats.mean_array[...] = x
        stats.mean_delta_array[...] = x
        return
    delta = x - stats.mean_array
    stats.mean_array += delta / stats.num_pushes
    stats.mean_delta_array += delta / stats.num_pushes
    spread = delta * (x - stats.mean_array)
    stats.sum_sq_diff_array += spread
    stats.sum_sq_diff_delta_array += spread


class LeanMeanStdFilter(MeanStdFilter):
    """RLlib's MeanStdFilter (same state, sync and merge) for one agent and a flat Box,
    which also hands the module its batch: the whole env-to-module pipeline.

    Each episode's newest observation updates the running stats, then is normalised
    by them and written back into the episode, in episode order, as RLlib does; the
    normalised observations, stacked in that order, are the module's OBS tensor (what
    RLlib's AddObservationsFromEpisodesToBatch, BatchIndividualItems and NumpyToTensor
    make of them for a stateless module).
    """

    def __call__(
        self,
        *,
        rl_module: Any,
        batch: dict[str, Any],
        episodes: list[Any],
        explore: bool | None = None,
        persistent_data: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        if self._filters is None:
            self._init_new_filters()
        f = self._filters[None]
        stats, buffer = f.running_stats, f.buffer
        rows = []
        for episode in self.single_agent_episode_iterator(episodes):
            x = np.asarray(episode.get_observations(indices=-1))
            if self._update_stats:
                push(stats, x)
                push(buffer, x)
            y = x
            if f.demean:
                y = y - stats.mean_array
            if f.destd:
                y = y / (std(stats) + SMALL_NUMBER)
            if f.clip:
                y = np.minimum(np.maximum(y, -f.clip), f.clip)  # np.clip, without its overhead
            y = y.astype(x.dtype)
            episode.set_observations(at_indices=-1, new_data=y)
            episode.observation_space = self.observation_space
            rows.append(y)
        batch[Columns.OBS] = torch.from_numpy(np.stack(rows))
        return batch


def std(stats: RunningStat) -> np.ndarray:
    """RunningStat.std, the same float32 arithmetic."""
    if stats.num_pushes <= 1:
        return np.zeros(stats.mean_array.shape, np.float32)
    var = (stats.sum_sq_diff_array / (float(stats.num_pushes) - 1)).astype(np.float32)
    return np.sqrt(np.maximum(0, var))


class UnsquashActions(ConnectorV2):
    """ACTIONS_FOR_ENV = the actions mapped from [-1, 1] onto the Box's bounds, clipped
    (RLlib's `unsquash_action`), for the whole vector of envs at once."""

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], **kwargs: Any) -> Any:
        space = self.input_action_space
        actions = batch[Columns.ACTIONS]
        unsquashed = space.low + (actions + 1.0) * (space.high - space.low) / 2.0
        batch[Columns.ACTIONS_FOR_ENV] = np.clip(unsquashed, space.low, space.high)
        return batch


def module_to_env_pieces(env: Any = None, spaces: Any = None) -> list[ConnectorV2]:
    """The whole module-to-env pipeline for one agent and a stateless module.

    Output columns stay batched arrays, row i for env i: the EnvRunner indexes
    them per env itself, so RLlib's unbatching and re-listing are not needed.
    """
    return [GetActions(), TensorToNumpy(), UnsquashActions()]
