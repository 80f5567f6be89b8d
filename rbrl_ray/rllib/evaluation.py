"""Evaluation of the frozen policy on the true reward.

RLlib's evaluation config builds a separate evaluation EnvRunner (in the trial's
process) and, before each evaluation, copies it the learner's weights;
`evaluate_frozen_policy` copies it the training EnvRunners' merged observation
filter (which RLlib does not, for a local evaluation runner) and runs a fixed
number of whole episodes on it with the filter's statistics held still, so the
number measures the policy of that iteration and nothing else: no smoothing over
earlier iterations (RLlib's episode window would mix evaluations), no rating
segments (RatingCallbacks skip evaluation runners), no update of the normalisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray.rllib.core import COMPONENT_ENV_TO_MODULE_CONNECTOR as E2M
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, EVALUATION_RESULTS
from ray.rllib.utils.metrics.metrics_logger import MetricsLogger

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import EvaluationSettings
from rbrl_ray.rllib.observation_filter import env_to_module, frozen_filters

#: An evaluation_interval no trial reaches: `every: 0` still needs RLlib's evaluation
#: EnvRunner, which RLlib only builds when an interval is set; the one evaluation
#: then comes from RatingPPO.step at the last iteration.
NEVER = 10**9


def evaluation_config(e: EvaluationSettings) -> dict[str, Any]:
    """Keyword arguments of AlgorithmConfig.evaluation for these settings."""
    if e.episodes == 0:
        return {"evaluation_interval": None}
    return {
        "evaluation_interval": e.every or NEVER,
        "evaluation_duration": e.episodes,
        "evaluation_duration_unit": "episodes",
        "evaluation_num_env_runners": 0,
        "evaluation_config": {"explore": e.explore},
        "custom_evaluation_function": evaluate_frozen_policy,
    }


def training_filter_state(algo: Any, scratch: Any) -> dict[str, Any]:
    """The env-to-module state the policy was just trained with.

    RLlib does not sync an EnvRunnerGroup without remote EnvRunners (its local one is
    taken for the reference), so a local evaluation runner would normalise with
    statistics of its own episodes, from zero. And it evaluates before it merges the
    iteration's filter changes. Here the merge is done early, RLlib's way: the local
    training runner's state (last merge) plus each remote runner's changes since,
    merged on `scratch` (a pipeline whose own state is overwritten next).
    """
    group = algo.env_runner_group
    state = group.local_env_runner.get_state(components=E2M)[E2M]
    if group.num_remote_env_runners() == 0:
        return state
    remote = group.foreach_env_runner(
        lambda runner: runner.get_state(components=E2M)[E2M], local_env_runner=False
    )
    scratch.set_state(state)
    return scratch.merge_states(remote)


def evaluate_frozen_policy(algo: Any, eval_group: Any) -> tuple[dict[str, Any], int, int]:
    """RLlib's custom evaluation function: whole episodes on the evaluation EnvRunner.

    The numbers reach the algorithm's metrics under evaluation/env_runners the way an
    EnvRunner's do (a logger of their own, aggregated), where Algorithm.evaluate reads
    only the latest merge: this evaluation's values, not a mean over earlier ones.
    """
    env_runner = eval_group.local_env_runner
    config = algo.evaluation_config
    env_runner.set_state({E2M: training_filter_state(algo, env_to_module(env_runner))})
    with frozen_filters(env_runner):
        episodes = env_runner.sample(
            num_episodes=config.evaluation_duration, explore=config.explore, force_reset=True
        )
    env_runner.get_metrics()  # drop the runner's own episode stats: they are not reported
    returns = np.array([episode.get_return() for episode in episodes], dtype=np.float64)
    steps = int(sum(episode.env_steps() for episode in episodes))
    values = {
        m.RETURN_KEY: float(returns.mean()),
        m.EVAL_RETURN_MIN_KEY: float(returns.min()),
        m.EVAL_RETURN_MAX_KEY: float(returns.max()),
        m.EVAL_EPISODES_KEY: len(returns),
    }
    logger = MetricsLogger()
    for key, value in values.items():
        logger.log_value(key, value, window=1)
    algo.metrics.aggregate([logger.reduce()], key=(EVALUATION_RESULTS, ENV_RUNNER_RESULTS))
    return values, steps, steps
