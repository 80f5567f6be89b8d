"""Under Tune, a trial reserves a bundle for its RatingService and the service starts there."""

import time

import pytest
import ray
from ray import tune

from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec
from rbrl_ray.rllib.keys import SPEC_KEY
from rbrl_ray.rllib.ppo import RatingPPO, RatingPPOConfig

pytestmark = pytest.mark.slow


def test_service_bundle_is_reserved_and_used(ray_local, tmp_path):
    ppo = PPO_PRESETS["small"].model_copy(update={"num_env_runners": 0})
    spec = ExperimentSpec(
        env="cartpole-balance",
        method="ours",
        classes=3,
        timesteps=1000,
        ppo=ppo,
        service_cpus=1,
        reward_model={"max_epochs": 2, "hidden": 32, "layers": 1},
        schedule={"explore_steps": 0, "every": 1000, "per_query": 10, "total": 10},
    )
    config = RatingPPOConfig.from_spec(spec)
    bundles = RatingPPO.default_resource_request(config).bundles
    assert bundles[-1] == {"CPU": 1.0}  # the service's own bundle, after RLlib's
    assert (
        len(bundles)
        == len(
            RatingPPO.default_resource_request(
                RatingPPOConfig.from_spec(spec.model_copy(update={"service_cpus": 0}))
            ).bundles
        )
        + 1
    )

    param_space = config.learners(learner_config_dict={SPEC_KEY: spec.model_dump(mode="json")})
    tuner = tune.Tuner(
        RatingPPO,
        param_space=param_space,
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), stop={"training_iteration": 1}, verbose=0
        ),
    )
    (result,) = tuner.fit()
    assert result.error is None
    assert result.metrics["rating/num_ratings"] == 10  # the service ran and rated
    # the trial's placement group, service bundle included, is released (asynchronously)
    for _ in range(60):
        if ray.available_resources().get("CPU", 0) == pytest.approx(2.0):
            break
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == pytest.approx(2.0)
