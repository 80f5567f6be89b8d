"""PPO config for an experiment spec: the paper's hyperparameters, one of six methods."""

from __future__ import annotations

from pathlib import Path

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.connectors.env_to_module import MeanStdFilter
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
from ray.tune.registry import register_env

from rbrl_ray.envs import make_env
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.rllib.algorithm import RATING_DIR_KEY, RatingPPO
from rbrl_ray.rllib.callbacks import RatingCallbacks
from rbrl_ray.rllib.relabel import SPEC_KEY, RatingRewardLearner

ENV_ID = "rbrl_ray/dmc"


def observation_filter(
    env: object = None, spaces: object = None, device: object = None
) -> MeanStdFilter:
    """Running mean/std observation normalisation (paper), synced across EnvRunners."""
    return MeanStdFilter()


def build_config(spec: ExperimentSpec, rating_dir: Path | None = None) -> PPOConfig:
    """The RatingPPO config of one trial. `rating_dir` overrides <trial dir>/ratings."""
    register_env(ENV_ID, make_env)
    p = spec.ppo
    extra: dict = {SPEC_KEY: spec.model_dump(mode="json")}
    if rating_dir is not None:
        extra[RATING_DIR_KEY] = str(rating_dir)
    config = (
        PPOConfig(algo_class=RatingPPO)
        .environment(ENV_ID, env_config={"env": spec.env})
        .env_runners(
            num_env_runners=p.num_env_runners,
            num_envs_per_env_runner=p.envs_per_runner,
            env_to_module_connector=observation_filter if p.normalize_observations else None,
        )
        .training(
            lr=p.lr,
            clip_param=p.clip_param,
            gamma=p.gamma,
            lambda_=p.lambda_,
            num_epochs=p.num_epochs,
            minibatch_size=p.minibatch_size,
            entropy_coeff=p.entropy_coeff,
            vf_loss_coeff=p.vf_loss_coeff,
            grad_clip=p.grad_clip,
            use_kl_loss=p.use_kl_loss,
            vf_clip_param=float("inf") if p.vf_clip_param is None else p.vf_clip_param,
            train_batch_size_per_learner=p.train_batch_size,
        )
        .rl_module(
            model_config=DefaultModelConfig(
                fcnet_hiddens=list(p.hidden), fcnet_activation=p.activation, vf_share_layers=False
            )
        )
        # One learner class for all six methods: with `ppo` it is plain PPO.
        .learners(num_learners=0, learner_config_dict=extra, learner_class=RatingRewardLearner)
        .callbacks(RatingCallbacks)
        .fault_tolerance(restart_failed_env_runners=True)
        .debugging(seed=spec.seed)
    )
    return config
