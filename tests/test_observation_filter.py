"""The observation filter's statistics are those of every observation seen, however
many EnvRunners sample and however often they sync (issue 30); apart from that merge
it is RLlib's MeanStdFilter, observation for observation and state for state."""

import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.connectors.connector_pipeline_v2 import ConnectorPipelineV2
from ray.rllib.connectors.env_to_module import MeanStdFilter
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils.filter import RunningStat

from rbrl_ray.rllib.lean.connectors import LeanMeanStdFilter
from rbrl_ray.rllib.observation_filter import (
    PooledMeanStdFilter,
    read_filter,
    samples_since_sync,
)

SPACE = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
ACTIONS = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
# per runner, unlike means and spreads, so a merge that mixes them up shows
MEANS = np.array([[2.0, -1.0, 5.0], [1.0, 0.5, -3.0], [3.0, -2.0, 4.0]])
SCALES = np.array([[1.0, 3.0, 0.5], [2.0, 1.0, 1.5], [0.5, 2.0, 1.0]])


def piece(cls: type, **kwargs) -> PooledMeanStdFilter:
    p = cls(**kwargs)
    p.input_observation_space, p.input_action_space = SPACE, ACTIONS
    return p


def step(p: PooledMeanStdFilter | MeanStdFilter, observations: np.ndarray) -> np.ndarray:
    """One vector step through the piece, as an EnvRunner calls it: one episode per env;
    the observations it wrote back into the episodes."""
    episodes = [
        SingleAgentEpisode(observations=[x], observation_space=SPACE, action_space=ACTIONS)
        for x in observations.astype(np.float32)
    ]
    p(rl_module=None, batch={}, episodes=episodes)
    return np.stack([e.get_observations(indices=-1) for e in episodes])


def stats(p: PooledMeanStdFilter) -> RunningStat:
    return p.running_stats


def run_syncs(
    cls: type, syncs: int, steps: int, **kwargs
) -> tuple[PooledMeanStdFilter, np.ndarray]:
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


def pooled(state: dict) -> dict:
    """A filter state with its RunningStat deltas made the new samples' own: what the
    pooled merge does before RunningStat.update, written out for RLlib's filter."""
    (agent,) = state.values()
    stats = [
        samples_since_sync(RunningStat.from_state(s)).to_state() for s in agent["running_stats"]
    ]
    return {None: {**agent, "running_stats": stats}}


def assert_same_state(ours: dict, theirs: dict) -> None:
    assert ours.keys() == theirs.keys() == {None}
    a, b = dict(ours[None]), dict(theirs[None])
    assert np.array_equal(a.pop("shape"), b.pop("shape")) and a == b


@pytest.mark.parametrize("merge", ["rllib", "pooled"])
def test_the_filter_is_rllibs_mean_std_filter_but_for_the_pooled_merge(merge):
    """RLlib's MeanStdFilter, fed the same observations and syncs (for "pooled", each
    runner's deltas made the new samples' own first), writes the same normalised
    observations back and holds the same state, bit for bit, through every sync."""
    rng = np.random.default_rng(2)
    ours = [piece(PooledMeanStdFilter, merge=merge) for _ in range(4)]  # the driver first
    theirs = [piece(MeanStdFilter) for _ in range(4)]
    for _ in range(4):
        for i, (mean, scale) in enumerate(zip(MEANS, SCALES, strict=True), start=1):
            for _ in range(30):
                x = rng.normal(mean, scale, size=(4, 3))
                np.testing.assert_array_equal(step(ours[i], x), step(theirs[i], x))
        states = [p.get_state() for p in theirs[1:]]
        for our, their in zip(ours[1:], states, strict=True):
            assert_same_state(our.get_state(), their)
        merged = ours[0].merge_states([p.get_state() for p in ours[1:]])
        expected = theirs[0].merge_states(
            [pooled(s) for s in states] if merge == "pooled" else states
        )
        assert_same_state(merged, expected)
        for our, their in zip(ours[1:], theirs[1:], strict=True):
            our.set_state(merged)
            their.set_state(expected)
    ours[1].updates = False  # held still, as evaluation holds it
    theirs[1]._update_stats = False
    x = rng.normal(MEANS[0], SCALES[0], size=(4, 3))
    np.testing.assert_array_equal(step(ours[1], x), step(theirs[1], x))
    assert_same_state(ours[1].get_state(), theirs[1].get_state())


@pytest.mark.parametrize("writer", [MeanStdFilter, PooledMeanStdFilter, LeanMeanStdFilter])
def test_a_checkpoints_filter_is_read_from_its_state_alone(writer, tmp_path):
    """`play` reads the statistics a checkpoint's pipeline saved, whichever of the three
    pieces wrote them, without importing the writing class (checkpoints name it by its
    module path at the time: moved since, RLlib's from_checkpoint fails)."""
    written = piece(writer)
    for _ in range(20):
        step(written, np.random.default_rng(3).normal(MEANS[1], SCALES[1], size=(4, 3)))
    ConnectorPipelineV2(SPACE, ACTIONS, connectors=[written]).save_to_path(tmp_path)
    for pickled_class in tmp_path.rglob("class_and_ctor_args.pkl"):
        pickled_class.unlink()
    read = read_filter(tmp_path)
    assert_same_state(read.get_state(), written.get_state())
    (tmp_path / "no_filter").mkdir()
    assert read_filter(tmp_path / "no_filter") is None
