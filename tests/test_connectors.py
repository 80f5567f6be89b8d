"""The lean EnvRunner connectors compute exactly what RLlib's pieces compute."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from ray.rllib.core import Columns
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.utils.filter import RunningStat

from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec
from rbrl_ray.rllib.lean.connectors import push
from rbrl_ray.rllib.ppo import RatingPPOConfig

STATS = ("mean_array", "mean_delta_array", "sum_sq_diff_array", "sum_sq_diff_delta_array")


def test_push_is_runningstats_welford_update():
    ours, rllib = RunningStat((3,)), RunningStat((3,))
    for x in np.random.default_rng(0).normal(5.0, 2.0, size=(50, 3)).astype(np.float32):
        push(ours, x)
        rllib.push(x)
    assert ours.num_pushes == rllib.num_pushes == 50
    for name in STATS:
        np.testing.assert_array_equal(getattr(ours, name), getattr(rllib, name))


def _sample(connectors: str, env: str, normalize: bool) -> tuple[list, dict]:
    ppo = PPO_PRESETS["small"].model_copy(
        update={
            "env_runner_connectors": connectors,
            "envs_per_runner": 3,
            "normalize_observations": normalize,
        }
    )
    spec = ExperimentSpec(env=env, method="ppo", seed=4, timesteps=10_000, ppo=ppo)
    config = RatingPPOConfig.from_spec(spec, rating_dir=Path(tempfile.mkdtemp()))
    runner = SingleAgentEnvRunner(config=config)  # seeds torch and the envs
    episodes = [e for _ in range(3) for e in runner.sample(num_timesteps=400)]
    state = runner.get_state()
    runner.stop()
    return episodes, state


@pytest.mark.parametrize(
    "env, normalize",
    [("cartpole-balance", True), ("walker-walk", True), ("cartpole-balance", False)],
)
def test_lean_connectors_sample_the_same_episodes_as_rllibs(env, normalize):
    lean, lean_state = _sample("lean", env, normalize)
    rllib, rllib_state = _sample("rllib", env, normalize)
    assert len(lean) == len(rllib) > 3
    for a, b in zip(lean, rllib, strict=True):
        np.testing.assert_array_equal(a.get_observations(), b.get_observations())
        np.testing.assert_array_equal(a.get_actions(), b.get_actions())
        np.testing.assert_array_equal(a.get_rewards(), b.get_rewards())
        for column in (Columns.ACTION_LOGP, Columns.ACTION_DIST_INPUTS):
            np.testing.assert_array_equal(
                a.get_extra_model_outputs(column), b.get_extra_model_outputs(column)
            )
    if not normalize:
        return
    # the observation filter's running stats, which EnvRunners sync, agree too
    (lean_filter,) = lean_state["env_to_module_connector"].values()
    (rllib_filter,) = rllib_state["env_to_module_connector"].values()
    assert str(lean_filter) == str(rllib_filter)


def test_unsquash_matches_rllibs_per_env_unsquash_on_any_box():
    import gymnasium as gym
    from ray.rllib.utils.spaces.space_utils import unsquash_action

    from rbrl_ray.rllib.lean.connectors import UnsquashActions

    space = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([1.0, 3.0], np.float32))
    actions = np.random.default_rng(1).normal(0.0, 2.0, size=(64, 2)).astype(np.float32)
    piece = UnsquashActions(input_action_space=space)
    out = piece(rl_module=None, batch={Columns.ACTIONS: actions})[Columns.ACTIONS_FOR_ENV]
    expected = np.stack([unsquash_action(a, space) for a in actions])
    np.testing.assert_array_equal(out, expected)
    assert out.min() >= -2.0 and out.max() <= 3.0  # out-of-range samples are clipped
