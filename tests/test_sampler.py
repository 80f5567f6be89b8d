"""The lean sampling path (DmcVectorEnv, LeanEnvRunner, the lean connector pieces)
samples what gymnasium's vector env, RLlib's EnvRunner and RLlib's connector pieces
sample, number for number, across episode ends."""

import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.core import Columns
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

from rbrl_ray.envs import PHYSICS_STATE_KEY, RAW_OBS_KEY, TASK_NAMES, get_task, make_env
from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec
from rbrl_ray.rllib.lean.env_runner import LeanEnvRunner
from rbrl_ray.rllib.lean.vector_env import DmcVectorEnv
from rbrl_ray.rllib.ppo import RatingPPOConfig


def test_vector_env_steps_like_a_sync_vector_env_of_wrapped_envs():
    name, n = "walker-walk", 2
    ours = DmcVectorEnv(name, n, record_states=True)
    config = {"env": name, "record_states": True}
    theirs = gym.vector.SyncVectorEnv([lambda: make_env(config)] * n)
    assert ours.single_observation_space == theirs.single_observation_space
    assert ours.single_action_space == theirs.single_action_space
    obs_a, info_a = ours.reset(seed=7)
    obs_b, info_b = theirs.reset(seed=7)
    np.testing.assert_array_equal(obs_a, obs_b)
    for key in (RAW_OBS_KEY, PHYSICS_STATE_KEY):
        np.testing.assert_array_equal(info_a[key], info_b[key])
    actions = np.random.default_rng(0).uniform(-1, 1, size=(1_005, n, get_task(name).act_dim))
    ends = 0
    for action in actions.astype(np.float32):  # past the 1,000-step limit: autoreset
        a, b = ours.step(action), theirs.step(action)
        for x, y in zip(a[:4], b[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        assert a[0].dtype == b[0].dtype == np.float32 and a[1].dtype == b[1].dtype
        for key in (RAW_OBS_KEY, PHYSICS_STATE_KEY):
            np.testing.assert_array_equal(a[4][key], b[4][key])
        ends += int(a[3].sum())
    assert ends == n  # each env truncated once, then reset by the next step
    # the state is the one the observation was made in: setting it reproduces the obs
    dm_env = ours.envs[1]._env
    state, raw = a[4][PHYSICS_STATE_KEY][1], a[4][RAW_OBS_KEY][1]
    for setting in (np.zeros_like(state), state):
        with dm_env.physics.reset_context():
            dm_env.physics.set_state(setting)
    again = np.empty_like(raw)
    ours._flatten(dm_env.task.get_observation(dm_env.physics), again)
    np.testing.assert_array_equal(again, raw)
    assert PHYSICS_STATE_KEY not in DmcVectorEnv(name, n).reset(seed=0)[1]
    assert PHYSICS_STATE_KEY not in make_env(name).reset(seed=0)[1]


def _sample(sampler: str, env: str, envs: int, normalize: bool) -> tuple[list, object]:
    ppo = PPO_PRESETS["small"].model_copy(
        update={
            "sampler": sampler,
            "env_runner_connectors": sampler,
            "envs_per_runner": envs,
            "normalize_observations": normalize,
        }
    )
    spec = ExperimentSpec(env=env, method="ppo", seed=3, timesteps=10_000, ppo=ppo)
    config = RatingPPOConfig.from_spec(spec, rating_dir=Path(tempfile.mkdtemp()))
    runner = (config.env_runner_cls or SingleAgentEnvRunner)(config=config)
    # 3 x 400 vector steps: every env passes the 1,000-step end of its first episode
    episodes = [e for _ in range(3) for e in runner.sample(num_timesteps=400 * envs)]
    return episodes, runner


@pytest.mark.parametrize(
    "env, envs, normalize",
    [("cartpole-balance", 3, True), ("walker-walk", 2, True), ("cartpole-balance", 2, False)],
)
def test_lean_sampler_samples_the_same_episodes_as_rllibs(env, envs, normalize):
    lean, lean_runner = _sample("lean", env, envs, normalize)
    rllib, rllib_runner = _sample("rllib", env, envs, normalize)
    assert isinstance(lean_runner, LeanEnvRunner)
    assert isinstance(lean_runner.env.unwrapped, DmcVectorEnv)
    assert type(rllib_runner) is SingleAgentEnvRunner
    assert len(lean) == len(rllib) > 2 * envs
    assert sum(e.is_done for e in lean) == sum(e.is_done for e in rllib) == envs
    for a, b in zip(lean, rllib, strict=True):
        ends = [(len(e), e.is_truncated, e.is_terminated) for e in (a, b)]
        assert ends[0] == ends[1]
        np.testing.assert_array_equal(a.get_observations(), b.get_observations())
        np.testing.assert_array_equal(a.get_actions(), b.get_actions())
        np.testing.assert_array_equal(a.get_rewards(), b.get_rewards())
        raw = [np.stack([i[RAW_OBS_KEY] for i in e.get_infos()]) for e in (a, b)]
        np.testing.assert_array_equal(*raw)
        for column in (Columns.ACTION_LOGP, Columns.ACTION_DIST_INPUTS):
            np.testing.assert_array_equal(
                a.get_extra_model_outputs(column), b.get_extra_model_outputs(column)
            )
    states = [r.get_state() for r in (lean_runner, rllib_runner)]
    filters = [list(state["env_to_module_connector"].values()) for state in states]
    assert str(filters[0]) == str(filters[1])  # the running stats EnvRunners sync
    metrics = [r.get_metrics() for r in (lean_runner, rllib_runner)]
    for key in ("num_env_steps_sampled_lifetime", "num_episodes_lifetime"):
        assert metrics[0][key] == metrics[1][key]
    assert lean_runner.module.training  # the rollout's eval mode is undone


def test_lean_env_runner_samples_whole_episodes_through_rllibs_loop():
    ppo = PPO_PRESETS["small"].model_copy(update={"envs_per_runner": 2})
    spec = ExperimentSpec(env="cartpole-balance", method="ppo", seed=0, timesteps=10_000, ppo=ppo)
    config = RatingPPOConfig.from_spec(spec, rating_dir=Path(tempfile.mkdtemp()))
    runner = LeanEnvRunner(config=config)
    episodes = runner.sample(num_episodes=1, explore=False)
    assert len(episodes) == 1 and len(episodes[0]) == 1_000 and episodes[0].is_truncated


def test_the_policy_forward_skips_rllibs_wrappers_with_the_same_numbers():
    import torch

    from rbrl_ray.rllib.lean.policy_forward import lean_action_dist_inputs

    _, runner = _sample("lean", "walker-walk", 2, True)
    obs = torch.randn(8, get_task("walker-walk").obs_dim)
    lean = lean_action_dist_inputs(runner.module, {Columns.OBS: obs})
    assert lean is not None  # the paper preset's module takes the direct path
    with torch.no_grad():
        rllib = runner.module._forward({Columns.OBS: obs})
    torch.testing.assert_close(lean, rllib, rtol=0, atol=0)
    assert lean_action_dist_inputs(runner.module, {Columns.OBS: obs, "state_in": obs}) is None


@pytest.mark.parametrize("name", [t for t in TASK_NAMES if t != "walker-walk"])
def test_vector_env_flattens_every_tasks_observation_as_the_wrappers_do(name):
    ours = DmcVectorEnv(name, 2)
    theirs = gym.vector.SyncVectorEnv([lambda: make_env(name)] * 2)
    assert ours.single_observation_space == theirs.single_observation_space
    np.testing.assert_array_equal(ours.reset(seed=1)[0], theirs.reset(seed=1)[0])
    rng = np.random.default_rng(1)
    for _ in range(30):
        action = rng.uniform(-1, 1, size=(2, get_task(name).act_dim)).astype(np.float32)
        a, b = ours.step(action), theirs.step(action)
        for x, y in zip(a[:4], b[:4], strict=True):
            np.testing.assert_array_equal(x, y)
