"""RatingPPO: PPO whose trial owns a RatingService actor.

The algorithm starts the service, hands its handle to the Learners' relabeller
and to every EnvRunner, advances it after each iteration, and carries its state
in the checkpoint. With method `ppo` it is plain PPO.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ray
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.ppo import PPO
from ray.rllib.core import ALL_MODULES
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME
from ray.tune.execution.placement_groups import PlacementGroupFactory
from ray.util.placement_group import get_current_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.rllib.relabel import PEARSON_TRUE, SPEC_KEY, RatingRewardLearner
from rbrl_ray.rllib.service import RatingService

SERVICE_COMPONENT = "rating_service"
RATING_DIR_KEY = "rbrl_rating_dir"  # optional override of <trial dir>/ratings
SERVICE_ATTR = "rbrl_rating_service"  # where an EnvRunner keeps the service handle


def _learner_extras(config: AlgorithmConfig | dict) -> dict[str, Any]:
    """`learner_config_dict` of a config object or of its dict form (as Tune passes it)."""
    if isinstance(config, AlgorithmConfig):
        return config.learner_config_dict or {}
    return config.get("learner_config_dict") or {}


def spec_from_config(config: AlgorithmConfig | dict) -> ExperimentSpec | None:
    raw = _learner_extras(config).get(SPEC_KEY)
    return None if raw is None else ExperimentSpec.model_validate(raw)


def config_from_spec(config: AlgorithmConfig | dict) -> AlgorithmConfig | dict:
    """The trial's full config rebuilt from the spec it carries.

    The experiment spec is the source of truth: a Tune grid varies only the spec
    inside `learner_config_dict`, and each trial derives env, seed, PPO settings and
    learner class from it. A config without a spec is returned unchanged.
    """
    spec = spec_from_config(config)
    if spec is None:
        return config
    from rbrl_ray.rllib.config import build_config  # config imports this module

    rating_dir = _learner_extras(config).get(RATING_DIR_KEY)
    rebuilt = build_config(spec, rating_dir=Path(rating_dir) if rating_dir else None)
    custom = _custom_learner_class(config)
    if custom is not None:  # an extension point: a learner subclass chosen by the caller
        rebuilt.learners(learner_class=custom)
    return rebuilt


def _custom_learner_class(config: AlgorithmConfig | dict) -> type | None:
    """A learner class set on `config` other than the one `build_config` picks itself."""
    chosen = (
        config._learner_class
        if isinstance(config, AlgorithmConfig)
        else config.get("_learner_class") or config.get("learner_class")
    )
    return None if chosen in (None, RatingRewardLearner) else chosen


def start_rating_service(spec: ExperimentSpec, root: Path) -> Any:
    """The trial's RatingService actor, placed in the trial's own bundle when it has one.

    Inside a Tune trial every actor is captured by the trial's placement group;
    `default_resource_request` adds the service's bundle as the last one.
    """
    group = get_current_placement_group()
    options: dict[str, Any] = {"num_cpus": spec.service_cpus}
    if group is not None and spec.service_cpus > 0:
        options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
            group, placement_group_bundle_index=len(group.bundle_specs) - 1
        )
    threads = (
        max(1, int(spec.service_cpus)) if spec.service_cpus >= 1 else min(2, os.cpu_count() or 1)
    )
    options["runtime_env"] = {"env_vars": {"OMP_NUM_THREADS": str(threads)}}
    actor = (
        ray.remote(RatingService).options(**options).remote(spec.model_dump(mode="json"), str(root))
    )
    ray.get(actor.ping.remote())
    return actor


class RatingPPO(PPO):
    rating_service: Any = None

    def __init__(
        self, config: AlgorithmConfig | dict | None = None, env: Any = None, **kwargs: Any
    ):
        super().__init__(config_from_spec(config) if config is not None else None, env, **kwargs)

    @classmethod
    def default_resource_request(cls, config: AlgorithmConfig | dict) -> PlacementGroupFactory:
        config = config_from_spec(config)
        factory = super().default_resource_request(config)
        spec = spec_from_config(config)
        if spec is None or not spec.learns_reward or spec.service_cpus <= 0:
            return factory
        return PlacementGroupFactory(
            bundles=[*factory.bundles, {"CPU": spec.service_cpus}], strategy=factory.strategy
        )

    def setup(self, config: AlgorithmConfig) -> None:
        super().setup(config)
        spec = spec_from_config(self.config)
        self.rating_service = None
        if spec is None or not spec.learns_reward:
            return
        root = self.config.learner_config_dict.get(RATING_DIR_KEY) or Path(self.logdir) / "ratings"
        self.rating_service = start_rating_service(spec, Path(root))
        service = self.rating_service
        self.learner_group.foreach_learner(lambda learner: learner.attach_rating_service(service))
        self.attach_env_runners()

    def attach_env_runners(self, indices: list[int] | None = None) -> None:
        """Give EnvRunners (all, or the recreated `indices`) the service handle."""
        if self.rating_service is None:
            return
        service = self.rating_service

        def attach(env_runner: Any) -> None:
            setattr(env_runner, SERVICE_ATTR, service)

        self.env_runner_group.foreach_env_runner(
            attach, remote_worker_ids=indices, local_env_runner=indices is None
        )

    def advance_ratings(self, result: dict[str, Any]) -> None:
        """Run due rating queries and add the rating metrics to `result`."""
        learner = result.get("learners", {}).get(ALL_MODULES, {})
        if PEARSON_TRUE in learner:
            result[PEARSON_TRUE] = learner[PEARSON_TRUE]
        if self.rating_service is None:
            return
        steps = int(result[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED_LIFETIME])
        result.update(ray.get(self.rating_service.advance.remote(steps)))

    def get_state(
        self, components: Any = None, *, not_components: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        state = super().get_state(components, not_components=not_components, **kwargs)
        if self.rating_service is not None and self._check_component(
            SERVICE_COMPONENT, components, not_components
        ):
            state[SERVICE_COMPONENT] = ray.get(self.rating_service.get_state.remote())
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        if self.rating_service is not None and SERVICE_COMPONENT in state:
            ray.get(self.rating_service.set_state.remote(state[SERVICE_COMPONENT]))

    def cleanup(self) -> None:
        super().cleanup()
        if self.rating_service is not None:
            ray.kill(self.rating_service)
            self.rating_service = None
