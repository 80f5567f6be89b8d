"""Every metric name a trial reports, written once.

The rating service, the learner, the progress table, `train`'s progress file
and the report all use these names, so a rename cannot silently empty a column.
Names with a "/" are paths in the flattened result dict RLlib and Tune report.
"""

from __future__ import annotations

# -- RLlib's own (flattened result paths) --------------------------------------------
ITERATION = "training_iteration"
ENV_RUNNERS = "env_runners"
STEPS_KEY = "num_env_steps_sampled_lifetime"  # under ENV_RUNNERS
STEPS_THIS_ITER_KEY = "num_env_steps_sampled"  # under ENV_RUNNERS
RETURN_KEY = "episode_return_mean"  # under ENV_RUNNERS: the true return
STEPS = f"{ENV_RUNNERS}/{STEPS_KEY}"
TRUE_RETURN = f"{ENV_RUNNERS}/{RETURN_KEY}"

# -- evaluation of the frozen policy (rllib/evaluation.py) -----------------------------
EVALUATION = "evaluation"
EVAL_RETURN_MIN_KEY = "episode_return_min"  # under EVALUATION/ENV_RUNNERS
EVAL_RETURN_MAX_KEY = "episode_return_max"
EVAL_EPISODES_KEY = "num_episodes"
EVAL_RETURN = f"{EVALUATION}/{ENV_RUNNERS}/{RETURN_KEY}"

# -- the rating service ---------------------------------------------------------------
NUM_RATINGS = "rating/num_ratings"
CLASS_HISTOGRAM = "rating/class_histogram"
POOL_SIZE = "rating/pool_size"
SEGMENTS_RECEIVED = "rating/segments_received"
#: Ratings of the trial's earlier run used after a restore instead of asked again.
RATINGS_REUSED = "rating/ratings_reused"
#: Times the trial replaced its dead rating service (counted in the driver).
SERVICE_RESTARTS = "rating/service_restarts"
RM_VERSION = "reward_model/version"
RM_PHASE = "reward_model/phase"
RM_FIT_RUNNING = "reward_model/fit_running"
RM_ACCURACY = "reward_model/accuracy"
RM_FIT_EPOCHS = "reward_model/fit_epochs"
RM_FIT_SECONDS = "reward_model/fit_seconds"
RM_DEVICE = "reward_model/device"  # where the fits ran: cpu or cuda
RM_FIT_RATINGS = "reward_model/fit_ratings"  # how many ratings the published model saw
SIGMA_CLS = "reward_model/sigma_cls"
SIGMA_REG = "reward_model/sigma_reg"

# -- the learner's relabeller (under learners/ALL_MODULES, lifted to these names) ----------
#: r(r̂, r) per step, once the learner trains on a reward model.
PEARSON_TRUE = "reward_model/pearson_true"
#: r(exploration reward, r) per step, while the learner trains on the state-entropy reward.
EXPLORE_PEARSON_TRUE = "exploration/pearson_true"
#: The per-step reward the policy trained on this iteration (r̂, or the exploration reward).
TRAIN_REWARD_MEAN = "train_reward/mean"
TRAIN_REWARD_STD = "train_reward/std"
RELABELLER_METRICS = (PEARSON_TRUE, EXPLORE_PEARSON_TRUE, TRAIN_REWARD_MEAN, TRAIN_REWARD_STD)

# -- the policy's update (under learners/<module>, last minibatch; lifted to policy/...) --
APPROX_KL_KEY = "approx_kl"  # ppo_loss.loss_stats
ACTION_STD_KEY = "action_std"
VF_LOSS_KEY = "vf_loss"  # RLlib's
ENTROPY_KEY = "entropy"  # RLlib's
POLICY_METRICS = {
    f"policy/{key}": key for key in (APPROX_KL_KEY, ACTION_STD_KEY, VF_LOSS_KEY, ENTROPY_KEY)
}

# -- the trial process ----------------------------------------------------------------
TORCH_THREADS = "perf/torch_threads"  # the learner's (it runs in the trial process)


def under_env_runners(result: dict, key: str, default: float | None = None) -> float | None:
    """result[ENV_RUNNERS][key] of a nested RLlib result, or `default`."""
    return result.get(ENV_RUNNERS, {}).get(key, default)


def evaluation_return(result: dict) -> float | None:
    """The frozen policy's mean true return in a nested RLlib result, if it was evaluated."""
    return under_env_runners(result.get(EVALUATION, {}), RETURN_KEY)
