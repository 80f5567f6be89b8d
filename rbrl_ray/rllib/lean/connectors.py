"""Lean EnvRunner connector pieces: RLlib's arithmetic, without its per-item machinery.

At 32 envs per EnvRunner, RLlib's connector pipelines took 29 % of sampling
(py-spy, BENCHMARKS.md): RLlib's MeanStdFilter pushed each observation through
`tree.map_structure` and two `RunningStat.push` calls with copies and checks, and
the module-to-env pipeline splits every output column into per-env items, deep-
copies the actions to unsquash them one by one, and lists them back together.
These pieces compute the same numbers (tests/test_connectors.py checks the
sampled episodes are identical) with one numpy expression per vector step where
the maths allows it, and one short loop where it is sequential (running stats).
`ppo.env_runner_connectors: rllib` keeps RLlib's own pieces (and our
PooledMeanStdFilter, an RLlib-style piece).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.module_to_env import GetActions
from ray.rllib.core import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchDiagGaussian
from ray.rllib.env.utils.infinite_lookback_buffer import InfiniteLookbackBuffer
from ray.rllib.utils.filter import RunningStat
from ray.rllib.utils.numpy import convert_to_numpy

from rbrl_ray.rllib.observation_filter import PooledMeanStdFilter, normalised


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


class LeanMeanStdFilter(PooledMeanStdFilter):
    """PooledMeanStdFilter (its statistics, state and merge) that also hands the module
    its batch: the whole env-to-module pipeline.

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
        stats = self.running_stats
        update = self.updating()
        rows = []
        for episode in self.single_agent_episode_iterator(episodes):
            x = np.asarray(newest(episode.observations))
            if update:
                push(stats, x)
            y = normalised(self, x)
            replace_newest(episode.observations, y)
            if episode.observation_space is not self.observation_space:
                episode.observation_space = self.observation_space
            rows.append(y)
        batch[Columns.OBS] = torch.from_numpy(np.stack(rows))
        return batch


def newest(buffer: InfiniteLookbackBuffer) -> Any:
    """buffer.get(-1): while sampling, the last item of the buffer's list."""
    return buffer.get(-1) if buffer.finalized else buffer.data[-1]


def replace_newest(buffer: InfiniteLookbackBuffer, item: Any) -> None:
    """buffer.set(item, at_indices=-1), as directly."""
    if buffer.finalized:
        buffer.set(item, at_indices=-1)
    else:
        buffer.data[-1] = item


class UnsquashActions(ConnectorV2):
    """ACTIONS_FOR_ENV = the actions mapped from [-1, 1] onto the Box's bounds, clipped
    (RLlib's `unsquash_action`), for the whole vector of envs at once."""

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], **kwargs: Any) -> Any:
        space = self.input_action_space
        actions = batch[Columns.ACTIONS]
        unsquashed = space.low + (actions + 1.0) * (space.high - space.low) / 2.0
        batch[Columns.ACTIONS_FOR_ENV] = np.clip(unsquashed, space.low, space.high)
        return batch


_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))  # torch's Normal.log_prob constant


class SampleDiagGaussian(GetActions):
    """GetActions for a diagonal Gaussian while exploring, without the distribution
    objects: RLlib's TorchDiagGaussian.from_logits, torch's Normal.sample (the same
    torch.normal call, so the same random numbers) and Normal.log_prob summed over
    the action dims, written out. Anything else is RLlib's GetActions."""

    def _get_actions(self, batch: dict[str, Any], sa_rl_module: Any, explore: bool) -> None:
        if (
            not explore
            or Columns.ACTIONS in batch
            or Columns.ACTION_DIST_INPUTS not in batch
            or sa_rl_module.get_exploration_action_dist_cls() is not TorchDiagGaussian
        ):
            super()._get_actions(batch, sa_rl_module, explore)
            return
        loc, log_std = batch[Columns.ACTION_DIST_INPUTS].chunk(2, dim=-1)
        scale = log_std.exp()
        with torch.no_grad():
            actions = torch.normal(loc, scale)
        batch[Columns.ACTIONS] = actions
        if Columns.ACTION_LOGP not in batch:
            log_prob = -((actions - loc) ** 2) / (2 * scale**2) - scale.log() - _LOG_SQRT_2PI
            batch[Columns.ACTION_LOGP] = log_prob.sum(-1)


class TensorsToNumpy(ConnectorV2):
    """TensorToNumpy for a flat batch of tensors (the module's output columns)."""

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], **kwargs: Any) -> Any:
        if not all(
            isinstance(v, torch.Tensor) and v.dim() > 0 and v.dtype == torch.float32
            for v in batch.values()
        ):
            return convert_to_numpy(batch)
        return {key: value.detach().cpu().numpy() for key, value in batch.items()}


def module_to_env_pieces(env: Any = None, spaces: Any = None) -> list[ConnectorV2]:
    """The whole module-to-env pipeline for one agent and a stateless module.

    Output columns stay batched arrays, row i for env i: the EnvRunner indexes
    them per env itself, so RLlib's unbatching and re-listing are not needed.
    """
    return [SampleDiagGaussian(), TensorsToNumpy(), UnsquashActions()]
