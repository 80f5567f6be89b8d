"""Minimal reproduction: RLlib 2.60's MeanStdFilter merges EnvRunners' statistics wrongly.

    pip install "ray[rllib]==2.60.0" && python docs/rllib_filter_merge_repro.py

RLlib alone, no code of this project. One EnvRunner's env-to-module MeanStdFilter
sees 1,000 observations from N(2, 1) between syncs; the algorithm's sync does what
`EnvRunnerGroup.sync_env_runner_states` does with remote EnvRunners: the local
runner's piece merges the remote states (`merge_states`) and every runner takes the
result (`set_state`). The merged mean should stay at 2 and the std at 1, as a single
`RunningStat` over the same samples does. It drifts toward 0, and the std grows.

Cause (ray/rllib/utils/filter.py): `RunningStat.push` accumulates
`mean_delta_array += (x - mean) / num_pushes`, with `num_pushes` the total count
since the beginning: after a sync that is the change of the total mean, not the
mean of the samples pushed since the sync, which is what `RunningStat.update`
takes it for (`delta_mean = other.mean_delta_array - self.mean_array`). Likewise
`sum_sq_diff_delta_array` is the change of the total sum of squares, which holds a
cross term. Only the first sync (when the totals are the deltas) is right.
"""

import gymnasium as gym
import numpy as np
from ray.rllib.connectors.env_to_module import MeanStdFilter
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils.filter import RunningStat

SPACE = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
ACTIONS = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)


def new_piece() -> MeanStdFilter:
    piece = MeanStdFilter()
    piece.input_observation_space, piece.input_action_space = SPACE, ACTIONS
    return piece


def main() -> None:
    rng = np.random.default_rng(0)
    local, remote = new_piece(), new_piece()  # the local EnvRunner's piece, one remote's
    reference = RunningStat((1,))  # one running statistic over every sample
    print("sync  merged mean  merged std   true mean  true std")
    for sync in range(1, 9):
        for _ in range(1_000):
            x = rng.normal(2.0, 1.0, size=(1,)).astype(np.float32)
            episode = SingleAgentEpisode(
                observations=[x], observation_space=SPACE, action_space=ACTIONS
            )
            remote(rl_module=None, batch={}, episodes=[episode])
            reference.push(x)
        merged = local.merge_states([remote.get_state()])  # EnvRunnerGroup's sync
        remote.set_state(merged)
        stats = local._filters[None].running_stats
        print(
            f"{sync:>4}  {stats.mean[0]:>11.3f}  {stats.std[0]:>10.3f}"
            f"  {reference.mean[0]:>10.3f}  {reference.std[0]:>8.3f}"
        )


if __name__ == "__main__":
    main()
