"""The lean paths (update loop, connectors, sampler) learn exactly as RLlib's own do."""

import numpy as np
import pytest
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.minibatch_utils import MiniBatchCyclicIterator

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec
from rbrl_ray.rllib.lean.env_runner import LeanEnvRunner
from rbrl_ray.rllib.lean.minibatches import cyclic_minibatches
from rbrl_ray.rllib.lean_switches import LeanRatingRewardLearner
from rbrl_ray.rllib.ppo import RatingPPOConfig
from rbrl_ray.rllib.relabel import RatingRewardLearner


@pytest.mark.parametrize(
    "rows, size, epochs", [(1_000, 250, 2), (1_013, 128, 3), (16_016, 128, 20), (100, 300, 2)]
)
def test_minibatch_plan_is_rllibs_cyclic_iterator_row_for_row(rows, size, epochs):
    batch = MultiAgentBatch({"p": SampleBatch({"row": np.arange(rows)})}, env_steps=rows)
    np.random.seed(7)
    rllib = [
        mb.policy_batches["p"]["row"].copy()
        for mb in MiniBatchCyclicIterator(
            batch, num_epochs=epochs, minibatch_size=size, shuffle_batch_per_epoch=True
        )
    ]
    np.random.seed(7)
    ours = cyclic_minibatches(rows, size, epochs)
    assert len(ours) == len(rllib)
    for a, b in zip(ours, rllib, strict=True):
        np.testing.assert_array_equal(a, b)


def test_minibatch_plan_runs_on_across_epochs_without_shuffling():
    plan = cyclic_minibatches(10, 4, 2, shuffle=False)
    rows = [p.tolist() for p in plan]
    assert rows == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]


def test_minibatch_plan_rejects_an_empty_batch():
    with pytest.raises(ValueError, match="got 0"):
        cyclic_minibatches(0, 4, 1)


LOGGED = ("policy_loss", "vf_loss", "entropy", "total_loss", "num_module_steps_trained")


def _train(spec, tmp_path, iterations, kinds=None):
    """Per-iteration learner metrics and the final weights; `kinds` receives the
    learner's and the EnvRunner's classes."""
    algo = RatingPPOConfig.from_spec(spec, rating_dir=tmp_path / "ratings").build_algo()
    if kinds is not None:
        kinds["learner"] = type(algo.learner_group._learner)
        kinds["env_runner"] = type(algo.env_runner_group.local_env_runner)
    try:
        rows = []
        for _ in range(iterations):
            result = algo.train()
            learner = result["learners"]["default_policy"]
            rows.append(
                {
                    **{k: float(learner[k]) for k in LOGGED},
                    "global_norm": float(learner["gradients_default_optimizer_global_norm"]),
                    "return": result["env_runners"].get("episode_return_mean", np.nan),
                    "lifetime_env_steps": result["learners"]["__all_modules__"][
                        "num_env_steps_trained_lifetime"
                    ],
                    "trained_reward": result["learners"]["__all_modules__"].get(
                        m.TRAIN_REWARD_MEAN, np.nan
                    ),
                }
            )
        weights = algo.get_module().state_dict()
        return rows, {k: v.detach().numpy().copy() for k, v in weights.items()}
    finally:
        algo.stop()


@pytest.mark.parametrize("method, classes", [("ppo", None), ("ours", 3)])
def test_lean_paths_learn_exactly_as_rllibs_own(ray_local, tmp_path, method, classes):
    """Same seed, small preset: the lean update loop, EnvRunner connectors and sampler
    (vector env and rollout loop) against RLlib's and gymnasium's own (the PPO of the
    learning-parity record): bit-for-bit equal losses, returns, step counts and weights.
    `ppo` is every verdict's baseline; `ours` adds the relabelling piece."""

    def spec(path):
        ppo = PPO_PRESETS["small"].model_copy(
            update={
                "update_loop": path,
                "env_runner_connectors": path,
                "sampler": path,
                "num_env_runners": 0,
            }
        )
        return ExperimentSpec(
            env="cartpole-balance",
            method=method,
            classes=classes,
            seed=3,
            timesteps=4_000,
            ppo=ppo,
            schedule={"explore_steps": 1_000, "every": 1_000, "per_query": 20, "total": 60},
            reward_model={"hidden": 32, "layers": 2, "max_epochs": 3},
        )

    lean_kinds, rllib_kinds = {}, {}
    lean, lean_weights = _train(spec("lean"), tmp_path / "lean", 4, lean_kinds)
    rllib, rllib_weights = _train(spec("rllib"), tmp_path / "rllib", 4, rllib_kinds)
    # the rllib side is the add-on alone on RLlib's stock learner and EnvRunner
    assert rllib_kinds == {"learner": RatingRewardLearner, "env_runner": SingleAgentEnvRunner}
    assert lean_kinds == {"learner": LeanRatingRewardLearner, "env_runner": LeanEnvRunner}
    assert RatingRewardLearner.__mro__[1] is PPOTorchLearner
    # the relabeller ran on both (with `ppo` there is none)
    assert bool(np.isfinite(rllib[-1]["trained_reward"])) == (method != "ppo")
    for a, b in zip(lean, rllib, strict=True):
        assert a == pytest.approx(b, rel=0, abs=0, nan_ok=True), (a, b)
    assert lean[-1]["num_module_steps_trained"] > 0
    assert np.isfinite(lean[-1]["return"])  # episodes ended, so returns were compared
    for name, value in rllib_weights.items():
        np.testing.assert_array_equal(lean_weights[name], value, err_msg=name)
