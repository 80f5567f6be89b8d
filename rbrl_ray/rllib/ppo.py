"""RatingPPO and its config: PPO whose trial owns a RatingService actor.

Laid out as RLlib's own `ppo.py` (`PPOConfig` beside `PPO`). The config is built
from an experiment spec (`RatingPPOConfig.from_spec`); the algorithm starts the
trial's service, hands its handle to the Learners' relabeller and to every
EnvRunner, advances it after each iteration, and carries its state in the
checkpoint. With method `ppo` it is plain PPO.

The spec owns the settings listed in SPEC_OWNED; everything else on the config
is the caller's (RLlib's usual way to customise an algorithm) and is kept. A
Tune grid varies only the spec inside `learner_config_dict`, so each trial
re-applies its own spec's settings; a spec-owned setting changed by hand after
`from_spec` fails loudly, naming the spec field to use instead.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.ppo import PPO, PPOConfig
from ray.rllib.core import ALL_MODULES, DEFAULT_MODULE_ID
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    EVALUATION_RESULTS,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
)
from ray.tune.execution.placement_groups import PlacementGroupFactory
from ray.tune.registry import register_env

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.rllib.callbacks import RatingCallbacks
from rbrl_ray.rllib.evaluation import evaluation_config
from rbrl_ray.rllib.keys import (
    BUILT_FROM_KEY,
    DESK_DIR_KEY,
    RATING_DIR_KEY,
    SERVICE_ATTR,
    SERVICE_COMPONENT,
    SPEC_KEY,
    learner_extras,
    spec_of,
)
from rbrl_ray.rllib.lean_switches import (
    ADDON_LEARNERS,
    effective_settings,
    env_runner_connectors,
    learner_class,
    make_env_or_vector,
    sampler_settings,
)
from rbrl_ray.rllib.nodes import trial_nodes
from rbrl_ray.rllib.policy_net import catalog_class, model_config
from rbrl_ray.rllib.relabel import RatingRewardLearner
from rbrl_ray.rllib.service_keeper import ServiceKeeper, service_bundle
from rbrl_ray.rllib.tune_restore import (
    trial_queue,
    trial_ratings_dir,
    trial_ratings_mirror,
    without_placeholders,
)

ENV_ID = "rbrl_ray/dmc"
#: Beside SERVICE_COMPONENT in a checkpoint: how often the trial replaced its service.
SERVICE_RESTARTS_KEY = "rating_service_restarts"
SAMPLE_TIMEOUT_S = 3600.0

#: AlgorithmConfig attributes the spec sets -> the spec field that owns each.
SPEC_OWNED: dict[str, str] = {
    "env": "env",
    "env_config": "env, physics_states",
    "seed": "seed",
    "num_env_runners": "ppo.num_env_runners",
    "num_envs_per_env_runner": "ppo.envs_per_runner",
    "gym_env_vectorize_mode": "ppo.sampler",
    "env_runner_cls": "ppo.sampler",
    "num_cpus_per_env_runner": "ppo.env_runner_cpus",
    "num_cpus_for_main_process": "ppo.learner_cpus",
    "num_cpus_per_learner": "ppo.learner_cpus",
    "_env_to_module_connector": "ppo.normalize_observations, ppo.filter_merge, "
    "ppo.freeze_observation_stats_at, ppo.env_runner_connectors",
    "_module_to_env_connector": "ppo.env_runner_connectors",
    "add_default_connectors_to_module_to_env_pipeline": "ppo.env_runner_connectors",
    "add_default_connectors_to_env_to_module_pipeline": "ppo.env_runner_connectors",
    "lr": "ppo.lr",
    "clip_param": "ppo.clip_param",
    "gamma": "ppo.gamma",
    "lambda_": "ppo.lambda_",
    "num_epochs": "ppo.num_epochs",
    "minibatch_size": "ppo.minibatch_size",
    "entropy_coeff": "ppo.entropy_coeff",
    "vf_loss_coeff": "ppo.vf_loss_coeff",
    "grad_clip": "ppo.grad_clip",
    "use_kl_loss": "ppo.use_kl_loss",
    "vf_clip_param": "ppo.vf_clip_param",
    "_train_batch_size_per_learner": "ppo.train_batch_size",
    "_model_config": "ppo (hidden, activation, free_log_std, init)",
    "_rl_module_spec": "ppo.init",
    "num_gpus_per_learner": "ppo.num_gpus_per_learner",
    "placement_strategy": "ppo.placement",
    "evaluation_interval": "evaluation.every, evaluation.episodes",
    "evaluation_duration": "evaluation.episodes",
}


def env_config(spec: ExperimentSpec) -> dict[str, Any]:
    """The env creator's config; "record_states" only when on, so configs stored
    before the setting existed still equal the ones built now."""
    return {"env": spec.env, **({"record_states": True} if spec.physics_states else {})}


class RatingPPOConfig(PPOConfig):
    """PPOConfig of a RatingPPO trial; `from_spec` is the usual way to make one."""

    def __init__(self, algo_class: type | None = None) -> None:
        super().__init__(algo_class=algo_class or RatingPPO)
        # One learner class for all six methods: with `ppo` it is plain PPO.
        self.learners(num_learners=0, learner_class=RatingRewardLearner)
        self.callbacks(RatingCallbacks)
        self.fault_tolerance(restart_failed_env_runners=True)
        # RLlib discards a sample that takes longer than this (default 60 s) and skips
        # the update: on a busy machine a 16k-step rollout can, which made learning
        # depend on timing. Wait for it instead (a dead EnvRunner still fails fast).
        self.env_runners(sample_timeout_s=SAMPLE_TIMEOUT_S)

    @classmethod
    def from_spec(cls, spec: ExperimentSpec, rating_dir: Path | None = None) -> RatingPPOConfig:
        """The config of one trial. `rating_dir` overrides <trial dir>/ratings."""
        config = cls().apply_spec(spec)
        config.learners(learner_config_dict={BUILT_FROM_KEY: spec.model_dump(mode="json")})
        if rating_dir is not None:
            config.learners(learner_config_dict={RATING_DIR_KEY: str(rating_dir)})
        return config

    def apply_spec(self, spec: ExperimentSpec) -> RatingPPOConfig:
        """Set every setting of SPEC_OWNED from `spec`, and carry the spec."""
        register_env(ENV_ID, make_env_or_vector)
        p = effective_settings(spec.ppo)  # lean pieces only where they were proven
        if self.learner_class in ADDON_LEARNERS:  # not a subclass set on purpose
            self.learners(learner_class=learner_class(p))
        (
            self.environment(ENV_ID, env_config=env_config(spec))
            .env_runners(
                num_env_runners=p.num_env_runners,
                num_envs_per_env_runner=p.envs_per_runner,
                num_cpus_per_env_runner=p.env_runner_cpus,
                **sampler_settings(p),
                **env_runner_connectors(p),
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
                model_config=model_config(p),
                rl_module_spec=RLModuleSpec(catalog_class=catalog_class(p)),
            )
            .learners(
                num_gpus_per_learner=p.num_gpus_per_learner,
                num_cpus_per_learner=p.learner_cpus,  # the learner runs in the main process
                learner_config_dict={SPEC_KEY: spec.model_dump(mode="json")},
            )
            .resources(num_cpus_for_main_process=p.learner_cpus, placement_strategy=p.placement)
            .evaluation(**evaluation_config(spec.evaluation))
            .debugging(seed=spec.seed)
        )
        return self

    def for_trial(self) -> RatingPPOConfig:
        """A copy with its own spec's settings applied (a Tune grid varies the spec only).

        Raises ValueError naming any spec-owned setting changed after `from_spec`.
        """
        spec = spec_of(self)
        config = self.copy(copy_frozen=False)
        if spec is None:
            return config
        built = learner_extras(self).get(BUILT_FROM_KEY)
        if built is not None:
            _check_owned_unchanged(self, type(self).from_spec(ExperimentSpec.from_stored(built)))
        return config.apply_spec(spec)


def _comparable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    return value


# Settings the spec took over after configs were first stored by Tune: a config
# built before then holds RLlib's default there, which is no change by hand (Tune
# restores configs from an experiment's state when a sweep or campaign resumes).
OWNED_LATER = (
    "gym_env_vectorize_mode",
    "env_runner_cls",
    "num_cpus_per_env_runner",
    "num_cpus_for_main_process",
    "num_cpus_per_learner",
    "placement_strategy",
)


def _check_owned_unchanged(config: AlgorithmConfig, built: AlgorithmConfig) -> None:
    rllib_default = PPOConfig()
    for attribute, field in SPEC_OWNED.items():
        now, then = getattr(config, attribute), getattr(built, attribute)
        if attribute in OWNED_LATER and now == getattr(rllib_default, attribute):
            continue
        if attribute.lstrip("_") in getattr(config, "lost_in_restore", ()):
            continue
        if _comparable(now) != _comparable(then):
            raise ValueError(
                f"config setting {attribute.lstrip('_')!r} was changed after "
                f"RatingPPOConfig.from_spec and would be overwritten by the experiment spec: "
                f"set the spec field {field!r} instead"
            )


def as_rating_config(config: AlgorithmConfig | dict) -> RatingPPOConfig:
    """An AlgorithmConfig or its dict form (as Tune passes it) as a RatingPPOConfig."""
    if isinstance(config, RatingPPOConfig):
        return config
    if isinstance(config, AlgorithmConfig):
        config = config.to_dict()
    clean = without_placeholders(config)
    rating = RatingPPOConfig().update_from_dict(clean)
    # lost to a Tune restore, not changed by hand: for_trial sets them from the spec
    rating.lost_in_restore = {k.lstrip("_") for k in config if k not in clean}
    return rating


def _wanted(component: str, components: Any, not_components: Any) -> bool:
    """Whether `get_state(components, not_components=...)` asks for `component`
    (Checkpointable's rule: None means all; a name, a list of names, or a subpath)."""

    def names(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else list(value or ())

    asked = components is None or any(
        c == component or c.startswith(component + "/") for c in names(components)
    )
    return asked and component not in names(not_components)


class RatingPPO(PPO):
    service: ServiceKeeper | None = None

    @property
    def rating_service(self) -> Any:
        """The trial's RatingService actor handle (None with method `ppo`)."""
        return None if self.service is None else self.service.actor

    def __init__(
        self, config: AlgorithmConfig | dict | None = None, env: Any = None, **kwargs: Any
    ):
        if config is not None:
            config = as_rating_config(config).for_trial()
        super().__init__(config, env, **kwargs)

    @classmethod
    def get_default_config(cls) -> RatingPPOConfig:
        return RatingPPOConfig(cls)

    @classmethod
    def default_resource_request(cls, config: AlgorithmConfig | dict) -> PlacementGroupFactory:
        config = as_rating_config(config).for_trial()
        factory = super().default_resource_request(config)
        spec = spec_of(config)
        if spec is None or not spec.learns_reward or service_bundle(spec) is None:
            return factory
        return PlacementGroupFactory(
            bundles=[*factory.bundles, service_bundle(spec)], strategy=factory.strategy
        )

    def setup(self, config: AlgorithmConfig) -> None:
        super().setup(config)
        spec = spec_of(self.config)
        self.service = None
        if spec is None or not spec.learns_reward:
            return
        extras = self.config.learner_config_dict
        root = Path(extras.get(RATING_DIR_KEY) or trial_ratings_dir(self))
        mirror = None if extras.get(RATING_DIR_KEY) else trial_ratings_mirror(self, root)
        desk = extras.get(DESK_DIR_KEY) or str(root.parent / "rating_desk")  # or a URI
        self.service = ServiceKeeper(
            spec, root, trial_queue(self), desk, self._attach_service, mirror=mirror
        )

    def _attach_service(self, service: Any) -> None:
        """Hand a (new) service actor to the learners' relabellers and every EnvRunner."""
        self.learner_group.foreach_learner(lambda learner: learner.attach_rating_service(service))
        self.attach_env_runners(service=service)

    def attach_env_runners(self, indices: list[int] | None = None, service: Any = None) -> None:
        """Give EnvRunners (all, or the recreated `indices`) the service handle."""
        service = service or self.rating_service
        if service is None:
            return

        def attach(env_runner: Any) -> None:
            setattr(env_runner, SERVICE_ATTR, service)

        self.env_runner_group.foreach_env_runner(
            attach, remote_worker_ids=indices, local_env_runner=indices is None
        )

    def step(self) -> dict[str, Any]:
        """RLlib's iteration, plus an evaluation at the trial's last one if none ran in it.

        The spec's `timesteps` ends a trial (the result says `done`, which Tune obeys), so
        a trial's final evaluation is of the policy it ends with, whatever the interval.
        An evaluation is reported in the iteration that ran it only: RLlib's metrics
        would repeat the last one in every later result.
        """
        evaluates = bool(interval := self.config.evaluation_interval) and (
            (self.iteration + 1) % interval == 0
        )
        result = super().step()
        if not evaluates:
            result.pop(EVALUATION_RESULTS, None)
        spec = spec_of(self.config)
        steps = result.get(ENV_RUNNER_RESULTS, {}).get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0)
        last = spec is not None and steps >= spec.timesteps
        if last and spec.evaluation.episodes > 0 and EVALUATION_RESULTS not in result:
            result[EVALUATION_RESULTS] = self.evaluate()
        self.metrics.delete(EVALUATION_RESULTS, key_error=False)
        result.update(trial_nodes(self))
        if last:
            result["done"] = True  # Tune ends the trial here, whatever the run's stop rule
        return result

    def advance_ratings(self, result: dict[str, Any]) -> None:
        """Run due rating queries and add the rating metrics to `result`."""
        learners = result.get("learners", {})
        shared, policy = learners.get(ALL_MODULES, {}), learners.get(DEFAULT_MODULE_ID, {})
        result.update({name: shared[name] for name in m.RELABELLER_METRICS if name in shared})
        result.update({name: policy[k] for name, k in m.POLICY_METRICS.items() if k in policy})
        if self.service is None:
            return
        steps = int(result[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED_LIFETIME])
        result.update(self.service.call("advance", steps))
        result[m.SERVICE_RESTARTS] = self.service.restarts

    def get_state(
        self, components: Any = None, *, not_components: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        state = super().get_state(components, not_components=not_components, **kwargs)
        if self.service is not None and _wanted(SERVICE_COMPONENT, components, not_components):
            state[SERVICE_COMPONENT] = self.service.get_state()
            state[SERVICE_RESTARTS_KEY] = self.service.restarts
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        if self.service is not None and SERVICE_COMPONENT in state:
            self.service.set_state(state[SERVICE_COMPONENT])
            self.service.restarts = state.get(SERVICE_RESTARTS_KEY, 0)

    def cleanup(self) -> None:
        super().cleanup()
        if self.service is not None:
            self.service.close()
            self.service = None
