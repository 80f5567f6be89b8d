"""The observation filter's statistics are those of every observation seen, however
many EnvRunners sample and however often they sync (issue 30)."""

import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.connectors.env_to_module import MeanStdFilter
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils.filter import RunningStat

from rbrl_ray.rllib.lean.connectors import LeanMeanStdFilter
from rbrl_ray.rllib.observation_filter import PooledMeanStdFilter

SPACE = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
ACTIONS = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
# per runner, unlike means and spreads, so a merge that mixes them up shows
MEANS = np.array([[2.0, -1.0, 5.0], [1.0, 0.5, -3.0], [3.0, -2.0, 4.0]])
SCALES = np.array([[1.0, 3.0, 0.5], [2.0, 1.0, 1.5], [0.5, 2.0, 1.0]])


def piece(cls: type, **kwargs) -> MeanStdFilter:
    p = cls(**kwargs)
    p.input_observation_space, p.input_action_space = SPACE, ACTIONS
    return p


def step(p: MeanStdFilter, observations: np.ndarray) -> None:
    """One vector step through the piece, as an EnvRunner calls it: one episode per env."""
    episodes = [
        SingleAgentEpisode(observations=[x], observation_space=SPACE, action_space=ACTIONS)
        for x in observations.astype(np.float32)
    ]
    p(rl_module=None, batch={}, episodes=episodes)


def stats(p: MeanStdFilter) -> RunningStat:
    return p._filters[None].running_stats


def run_syncs(cls: type, syncs: int, steps: int, **kwargs) -> tuple[MeanStdFilter, np.ndarray]:
    """Three runners of four envs sample, then the algorithm's EnvRunnerGroup syncs:
    the local runner's piece merges the remote states and every runner takes the result."""
    rng = np.random.default_rng(0)
    driver = piece(cls, **kwargs)
    runners = [piece(cls, **kwargs) for _ in MEANS]
    seen = []
    for _ in range(syncs):
        for runner, mean, scale in zip(runners, MEANS, SCALES, strict=True):
            for _ in range(steps):
                x = rng.normal(mean, scale, size=(4, 3)).astype(np.float32)
                step(runner, x)
                seen.append(x)
        merged = driver.merge_states([r.get_state() for r in runners])
        for runner in runners:
            runner.set_state(merged)
    return driver, np.concatenate(seen).astype(np.float64)


@pytest.mark.parametrize("cls", [PooledMeanStdFilter, LeanMeanStdFilter])
def test_merged_statistics_equal_those_of_every_observation(cls):
    driver, seen = run_syncs(cls, syncs=6, steps=50)
    merged = stats(driver)
    assert merged.num_pushes == len(seen) == 6 * 3 * 50 * 4
    np.testing.assert_allclose(merged.mean, seen.mean(axis=0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(merged.std, seen.std(axis=0, ddof=1), rtol=1e-5)


def test_rllibs_own_merge_drifts_which_is_why_we_pool():
    """RLlib 2.60's merge (kept as merge='rllib' to reproduce older records) pulls the
    mean toward zero; if an RLlib upgrade fixes it, this test says so."""
    driver, seen = run_syncs(PooledMeanStdFilter, syncs=6, steps=50, merge="rllib")
    true_mean = seen.mean(axis=0)
    assert np.abs(stats(driver).mean - true_mean).max() > 0.5


def test_one_runner_synced_equals_local_mode():
    """With one remote runner the merged statistics are the runner's own: the layouts
    with and without remote EnvRunners normalise alike."""
    rng = np.random.default_rng(1)
    driver, runner, local = (piece(PooledMeanStdFilter) for _ in range(3))
    for _ in range(5):
        for _ in range(40):
            x = rng.normal(MEANS[0], SCALES[0], size=(4, 3))
            step(runner, x)
            step(local, x)
        runner.set_state(driver.merge_states([runner.get_state()]))
    np.testing.assert_allclose(stats(runner).mean, stats(local).mean, rtol=1e-9)
    np.testing.assert_allclose(stats(runner).std, stats(local).std, rtol=1e-9)


@pytest.mark.parametrize("cls", [PooledMeanStdFilter, LeanMeanStdFilter])
def test_statistics_stop_updating_after_freeze_after(cls):
    driver, seen = run_syncs(cls, syncs=3, steps=50, freeze_after=1_000)
    # each runner stops once its view (merged count + its own) reaches 1,000
    counts = stats(driver).num_pushes
    assert 1_000 <= counts < len(seen)
    frozen = piece(cls, freeze_after=8)
    for _ in range(5):
        step(frozen, np.ones((4, 3)))
    assert stats(frozen).num_pushes == 8
