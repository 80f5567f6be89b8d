"""Evaluation of the frozen policy: when it runs, what it normalises with, what it reports."""

import numpy as np
import pytest

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec
from rbrl_ray.rllib.observation_filter import filter_pieces
from rbrl_ray.rllib.ppo import RatingPPOConfig

pytestmark = pytest.mark.slow


def spec(env_runners: int, every: int, episodes: int = 2, timesteps: int = 3000) -> ExperimentSpec:
    ppo = PPO_PRESETS["small"].model_copy(update={"num_env_runners": env_runners})
    return ExperimentSpec(
        env="cartpole-balance",
        method="ppo",
        timesteps=timesteps,  # iterations of 1,000 steps
        ppo=ppo,
        evaluation={"every": every, "episodes": episodes},
    )


def filter_stats(env_runner):
    (piece,) = filter_pieces(env_runner)
    stats = piece.running_stats
    return stats.num_pushes, stats.mean_array.copy()


def remote_filter_stats(algo):
    return algo.env_runner_group.foreach_env_runner(filter_stats, local_env_runner=False)[0]


@pytest.mark.parametrize("env_runners", [0, 1])
def test_evaluations_at_the_interval_and_the_end_with_the_training_filter(ray_local, env_runners):
    algo = RatingPPOConfig.from_spec(spec(env_runners, every=2, timesteps=3000)).build_algo()
    try:
        evaluated = []
        for _ in range(3):
            result = algo.train()
            evaluated.append(m.evaluation_return(result))
            training = remote_filter_stats(algo) if env_runners else filter_stats(algo.env_runner)
            if evaluated[-1] is not None:
                # the evaluation runner held the filter the policy was trained with, still
                pushes, mean = filter_stats(algo.eval_env_runner)
                assert pushes == training[0] > 0
                np.testing.assert_array_equal(mean, training[1])
        # iteration 2 (the interval) and 3 (the trial's last), not repeated in iteration 3
        assert evaluated[0] is None and None not in evaluated[1:]
        assert evaluated[1] != evaluated[2]
        last = result[m.EVALUATION][m.ENV_RUNNERS]
        assert last[m.EVAL_EPISODES_KEY] == 2
        assert 0 < last[m.EVAL_RETURN_MIN_KEY] <= last[m.RETURN_KEY] <= last[m.EVAL_RETURN_MAX_KEY]
        assert last[m.EVAL_RETURN_MAX_KEY] <= 1000
    finally:
        algo.stop()


def test_evaluation_is_deterministic_and_leaves_training_untouched(ray_local):
    """explore: False acts with the mean action: two evaluations of one policy from the
    same start states agree; the training filter is not moved by evaluation episodes."""
    algo = RatingPPOConfig.from_spec(spec(0, every=0, timesteps=10_000)).build_algo()
    try:
        algo.train()
        before = filter_stats(algo.env_runner)
        runner = algo.eval_env_runner
        runner.env.reset(seed=7)
        first = algo.evaluate()[m.ENV_RUNNERS][m.RETURN_KEY]
        runner.env.reset(seed=7)
        second = algo.evaluate()[m.ENV_RUNNERS][m.RETURN_KEY]
        assert first == second
        after = filter_stats(algo.env_runner)
        assert after[0] == before[0]
        np.testing.assert_array_equal(after[1], before[1])
    finally:
        algo.stop()


def test_no_evaluation_when_episodes_is_zero(ray_local):
    algo = RatingPPOConfig.from_spec(spec(0, every=1, episodes=0, timesteps=1000)).build_algo()
    try:
        result = algo.train()
        assert m.evaluation_return(result) is None
        assert algo.eval_env_runner_group is None
    finally:
        algo.stop()
