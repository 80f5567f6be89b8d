"""scripts/walker_posture.py on two committed walker-walk policies of campaign v2: the
true reward splits into dm_control's stand and move factors, and the postures
ANALYSIS.md reports (PPO upright, `ours` running with its torso low) are what the
committed policies do."""

import importlib.util
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "results" / "campaign_v2" / "policies"
STEPS = 300  # past the first stride: both policies are in their gait by then


def posture_script():
    spec = importlib.util.spec_from_file_location(
        "walker_posture", REPO / "scripts" / "walker_posture.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(policy: str):
    from rbrl_ray.envs import make_env, shimmy_env
    from rbrl_ray.human.frozen_policy import FrozenPolicy

    env = make_env({"env": "walker-walk", "record_states": True})
    episode = FrozenPolicy(POLICIES / policy).episode(env, seed=1000, steps=STEPS)
    physics = shimmy_env("walker-walk")._env.physics
    return episode, posture_script().gait(physics, episode.states)


def test_the_factors_multiply_to_the_envs_reward_and_ppo_walks_upright():
    episode, gait = run("walker-walk_ppo_s4")
    assert np.allclose(gait.reward, episode.rewards, atol=1e-4)
    assert gait.height[100:].mean() > 1.1 and gait.stand[100:].mean() > 0.9


def test_the_learned_reward_policy_runs_fast_with_its_torso_low():
    episode, gait = run("walker-walk_ours_c3_s4")
    assert np.allclose(gait.reward, episode.rewards, atol=1e-4)
    assert gait.height[100:].mean() < 0.9 and gait.speed[100:].mean() > 1.5
    assert gait.stand[100:].mean() < 0.6
