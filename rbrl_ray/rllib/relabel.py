"""Learner connector piece that replaces every episode's rewards with r̂ before GAE.

Modelled on RLlib's intrinsic-curiosity learner example: RLlib's stock PPO learner,
subclassed only to call `add_reward_relabeller`, which inserts one connector piece
into its pipeline, right after NumpyToTensor and so right before
GeneralAdvantageEstimation, which reads the batch's REWARDS column.

The piece computes r̂ from the episodes (raw observations, actions) and writes it
into that column; it never writes into the episodes themselves. With a local
EnvRunner the Learner gets the very episode objects the EnvRunner later sums into
its true-return metric, so rewriting them would corrupt the true return.
Each episode ends with AddOneTsToEpisodesAndTruncate's bootstrap row, whose
reward stays 0.

Before the first reward model exists (the exploration phase) the rewards are the
intrinsic state-entropy reward instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import ray
import torch
from ray.exceptions import RayActorError
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.common.numpy_to_tensor import NumpyToTensor
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core import ALL_MODULES, Columns
from ray.rllib.utils.numpy import convert_to_numpy

from rbrl_ray import metric_names as m
from rbrl_ray.envs import get_task
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.reward.model import RewardEnsemble
from rbrl_ray.rllib.episodes import learner_steps
from rbrl_ray.rllib.exploration import state_entropy_reward
from rbrl_ray.rllib.keys import spec_of
from rbrl_ray.rllib.service import EXPLORE


class RewardRelabeller(ConnectorV2):
    """Rewrites episode rewards with the ensemble-mean r̂ of the trial's reward model."""

    def __init__(
        self,
        input_observation_space: Any = None,
        input_action_space: Any = None,
        *,
        spec: ExperimentSpec,
        **kwargs: Any,
    ) -> None:
        super().__init__(input_observation_space, input_action_space, **kwargs)
        task = get_task(spec.env)
        rm = spec.reward_model
        self.model = RewardEnsemble(task.obs_dim, task.act_dim, rm.members, rm.hidden, rm.layers)
        self.knn_k = spec.knn_k
        self.service: Any = None  # RatingService actor handle, attached by the algorithm
        self.key: tuple[str, int] | None = None
        self.phase = EXPLORE

    def _refresh(self) -> None:
        """Pull the newest weights when the service's (session, version) changed.

        A dead service leaves the weights as they are: they are the ones it published
        last, which is what this update would have used anyway. The trial's driver
        replaces the service after the update and attaches the new one here.
        """
        if self.service is None:
            raise RuntimeError("RewardRelabeller has no rating service attached")
        try:
            key, phase, weights = ray.get(self.service.reward_source.remote(self.key))
        except RayActorError:
            return
        if weights is not None:
            self.model.load_state_dict(weights)
        self.key, self.phase = key, phase

    def rewards_for(self, obs: np.ndarray, act: np.ndarray) -> np.ndarray:
        """The per-step reward the policy trains on: r̂ (ensemble mean), or the
        state-entropy reward while exploring."""
        if self.phase == EXPLORE:
            return state_entropy_reward(torch.from_numpy(obs), self.knn_k).numpy()
        return self.model.mean_reward(torch.from_numpy(obs), torch.from_numpy(act)).numpy()

    def __call__(
        self,
        *,
        rl_module: Any,
        batch: dict[str, Any],
        episodes: list[Any],
        shared_data: dict | None = None,
        metrics: Any = None,
        **kwargs: Any,
    ) -> Any:
        self._refresh()
        obs, act, true, lengths = learner_steps(list(self.single_agent_episode_iterator(episodes)))
        rewards = self.rewards_for(obs, act)
        (module_id,) = batch.keys()  # single-agent: one module
        column = batch[module_id][Columns.REWARDS]
        _check_rows_follow_episodes(convert_to_numpy(column), true, lengths)
        batch[module_id][Columns.REWARDS] = torch.as_tensor(
            with_bootstrap_rows(rewards, lengths), dtype=column.dtype, device=column.device
        )
        if metrics is not None:
            self._log(metrics, rewards, true)
        return batch

    def _log(self, metrics: Any, rewards: np.ndarray, true: np.ndarray) -> None:
        """What the policy trained on: the reward's scale, and how it tracks the true one
        (named by phase: the exploration reward is not the reward model's)."""
        log = metrics.log_value
        log((ALL_MODULES, m.TRAIN_REWARD_MEAN), float(rewards.mean()), window=1)
        log((ALL_MODULES, m.TRAIN_REWARD_STD), float(rewards.std()), window=1)
        pearson = math.nan
        if len(true) > 1 and true.std() > 0 and rewards.std() > 0:
            pearson = float(np.corrcoef(rewards, true)[0, 1])
        # both, every update: a window-1 value not logged again would repeat in later results
        exploring = self.phase == EXPLORE
        log((ALL_MODULES, m.EXPLORE_PEARSON_TRUE), pearson if exploring else math.nan, window=1)
        log((ALL_MODULES, m.PEARSON_TRUE), math.nan if exploring else pearson, window=1)


def with_bootstrap_rows(per_step: np.ndarray, lengths: list[int]) -> np.ndarray:
    """Per-step values laid out as train-batch rows: each episode's steps, then 0."""
    ends = np.cumsum(lengths)
    return np.insert(per_step, ends, 0.0).astype(np.float32)


def _check_rows_follow_episodes(column: np.ndarray, true: np.ndarray, lengths: list[int]) -> None:
    """The REWARDS column must hold the episodes' true rewards in episode order."""
    expected = with_bootstrap_rows(true, lengths)
    if column.shape != expected.shape or not np.allclose(column, expected, atol=1e-5):
        raise RuntimeError(
            "train-batch rows do not follow the episodes (RLlib's learner pipeline changed?): "
            f"REWARDS has {column.shape[0]} rows, episodes give {expected.shape[0]}"
        )


def add_reward_relabeller(learner: Any, spec: ExperimentSpec) -> RewardRelabeller:
    """Insert a RewardRelabeller into `learner`'s connector pipeline (as RLlib's
    curiosity example inserts its pieces); with `ppo` it is kept but not inserted."""
    relabeller = RewardRelabeller(spec=spec)
    if spec.learns_reward:
        # RLlib's example does exactly this: the pipeline has no public accessor
        learner._learner_connector.insert_after(NumpyToTensor, relabeller)
    return relabeller


class RatingRewardLearner(PPOTorchLearner):
    """RLlib's PPO learner, its rewards from the trial's reward model (with `ppo`:
    plain PPO), its Adam with the spec's epsilon."""

    def build(self) -> None:
        self.spec = spec_of(self.config)
        if self.spec is None:
            raise ValueError("RatingRewardLearner needs a config made by RatingPPOConfig.from_spec")
        super().build()
        self.relabeller = add_reward_relabeller(self, self.spec)

    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        """PPOTorchLearner's Adam, with the spec's epsilon (SB3's 1e-5; torch's default
        is 1e-8) and torch kernel (`ppo.adam`)."""
        params = self.get_parameters(self.module[module_id])
        settings = self.spec.ppo
        self.register_optimizer(
            module_id=module_id,
            optimizer=torch.optim.Adam(params, eps=settings.adam_eps, **settings.adam_kernel),
            params=params,
            lr_or_lr_schedule=config.lr,
        )

    def attach_rating_service(self, service: Any) -> None:
        self.relabeller.service = service
        self.relabeller.key = None  # a new service: pull its weights on the next update
