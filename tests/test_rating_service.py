"""RatingService as a plain object: blocking and background fits publish the same model,
a background fit is published one advance later, a checkpoint taken while it runs
keeps it, and a restore uses the ratings stored after its state as their queries fall due."""

import numpy as np
import pytest
import torch

from rbrl_ray.experiment import ExperimentSpec, RatingSchedule
from rbrl_ray.feedback.recovery import unrestored
from rbrl_ray.feedback.segments import Segments, cut_segments
from rbrl_ray.feedback.store import UNKNOWN_QUERY, RatedStore
from rbrl_ray.reward.config import RewardModelConfig
from rbrl_ray.rllib.service import EXPLORE, MODEL, RatingService

OBS_DIM, ACT_DIM = 5, 1  # cartpole-balance


def _spec(background: bool) -> dict:
    return ExperimentSpec(
        env="cartpole-balance",
        method="ours",
        classes=3,
        schedule=RatingSchedule(
            explore_steps=100, every=100, per_query=40, total=80, background_fit=background
        ),
        reward_model=RewardModelConfig(max_epochs=3),
    ).model_dump(mode="json")


def _segments(seed: int, count: int = 60):
    rng = np.random.default_rng(seed)
    steps = count * 50
    obs = rng.normal(size=(steps, OBS_DIM)).astype(np.float32)
    act = rng.uniform(-1, 1, size=(steps, ACT_DIM)).astype(np.float32)
    rewards = rng.uniform(0, 1, size=steps).astype(np.float32)
    return cut_segments(obs, act, rewards, count, rng)


def _service(tmp_path, background: bool, name: str) -> RatingService:
    service = RatingService(_spec(background), str(tmp_path / name))
    service.add_segments(_segments(0))
    return service


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_background_fit_is_published_by_the_next_advance(tmp_path):
    blocking = _service(tmp_path, background=False, name="blocking")
    background = _service(tmp_path, background=True, name="background")

    # Query 0: the first fit blocks in both (no model yet: exploration ends on time).
    assert blocking.advance(100)["reward_model/version"] == 1 and blocking.phase == MODEL
    m_back = background.advance(100)
    assert m_back["reward_model/version"] == 1 and background.phase == MODEL
    first = background.reward_source(None)[2]
    assert _equal(first, blocking.reward_source(None)[2])

    # Query 1: the background fit runs; learners keep the first model meanwhile.
    for service in (blocking, background):
        service.add_segments(_segments(1))
    m_block = blocking.advance(200)
    m_back = background.advance(200)
    assert m_block["reward_model/version"] == 2
    assert m_back["reward_model/version"] == 1 and m_back["rating/num_ratings"] == 80
    key, _, weights = background.reward_source(None)
    assert key[1] == 1 and _equal(weights, first)

    # Nothing due at step 250; the finished fit is published now, and it is the very
    # model the blocking service fitted on the same ratings.
    m_back = background.advance(250)
    assert m_back["reward_model/version"] == 2 and m_back["reward_model/fit_running"] is False
    assert _equal(background.reward_source(None)[2], blocking.reward_source(None)[2])
    assert m_back["reward_model/fit_epochs"] == m_block["reward_model/fit_epochs"]


def test_a_first_fit_in_the_background_keeps_exploring_one_advance_longer(tmp_path):
    spec = _spec(background=True)
    spec["schedule"]["first_fit_blocks"] = False  # what campaign v1 ran
    service = RatingService(spec, str(tmp_path / "v1"))
    service.add_segments(_segments(0))
    untrained = service.reward_source(None)[2]
    m_first = service.advance(100)
    assert m_first["reward_model/version"] == 0 and m_first["rating/num_ratings"] == 40
    assert service.phase == EXPLORE and _equal(service.reward_source(None)[2], untrained)
    assert service.advance(150)["reward_model/version"] == 1 and service.phase == MODEL


def test_checkpoint_during_background_fit_keeps_it(tmp_path):
    service = _service(tmp_path, background=True, name="a")
    service.advance(100)  # the first fit blocks
    service.add_segments(_segments(1))
    service.advance(200)  # starts a fit in the background
    state = service.get_state()  # waits for it; it is pending, not yet published
    assert state["version"] == 1 and state["pending_fit"] is not None
    fitted = service.trainer.state_dict()["model"]

    restored = RatingService(_spec(True), str(tmp_path / "b"))
    restored.set_state(state)
    assert restored.version == 1
    assert _equal(restored.reward_source(None)[2], state["published"])
    restored.add_segments(_segments(2))
    metrics = restored.advance(250)
    assert metrics["reward_model/version"] == 2
    assert _equal(restored.reward_source(None)[2], fitted)


@pytest.mark.parametrize("background", [False, True])
def test_old_checkpoints_without_published_weights_still_load(tmp_path, background):
    service = _service(tmp_path, background=background, name="a")
    service.advance(100)
    state = service.get_state()
    del state["published"], state["pending_fit"]  # the layout before background fits
    restored = RatingService(_spec(background), str(tmp_path / "b"))
    restored.set_state(state)
    assert _equal(restored.reward_source(None)[2], restored.trainer.state_dict()["model"])


def _takeover_spec() -> dict:
    spec = _spec(background=False)
    spec["schedule"].update(explore_steps=0, per_query=10, total=50)
    return spec


def test_a_restore_uses_the_ratings_stored_after_its_state_as_their_queries_fall_due(tmp_path):
    root = str(tmp_path / "ratings")
    first = RatingService(_takeover_spec(), root)
    first.add_segments(_segments(0))
    first.advance(100)  # queries 0 and 1
    checkpoint = first.get_state()
    first.advance(300)  # queries 2 and 3, after the checkpoint; then the service "dies"
    assert len(first.labels) == 40

    second = RatingService(_takeover_spec(), root)
    assert second.set_state(checkpoint) == 20
    # held, not used yet: the schedule and the model are where the checkpoint left them
    assert len(second.labels) == 20 and second.queries_done == 2
    assert second.version == checkpoint["version"] and second.ratings_reused == 0
    # the new lineage: one restored copy of all 40, should this run die too
    (copy,) = second.store.files()
    assert copy.restored and len(copy.labels) == 40
    # step 200: query 2 is due, and gets the earlier run's answer (no pool, nothing asked)
    assert second.advance(200)["rating/num_ratings"] == 30 == len(first.labels) - 10
    assert second.ratings_reused == 10 and second.version == checkpoint["version"] + 1

    # a restore of this run's next checkpoint holds what is still held: query 3's
    third = RatingService(_takeover_spec(), root)
    assert third.set_state(second.get_state()) == 10 and list(third.backlog) == [3]

    second.advance(300)
    assert np.array_equal(second.labels, first.labels)
    assert np.array_equal(second.queries, [0] * 10 + [1] * 10 + [2] * 10 + [3] * 10)
    assert second.last_fit.ratings == 40 and second.ratings_reused == 20
    assert len(second.store.files()) == 1  # nothing was asked again
    second.add_segments(_segments(1))
    second.advance(400)
    assert len(second.labels) == 50 and second.store.files()[-1].queries.tolist() == [4] * 10


def test_a_fresh_restore_holds_everything_and_duplicates_count_as_ratings(tmp_path):
    store = tmp_path / "ratings"
    first = RatingService(_takeover_spec(), str(store))
    twice = _segments(0, count=10)
    first.add_segments(Segments.concat([twice, twice]))  # the same 10 segments twice
    first.advance(100)
    assert len(first.labels) == 20
    second = RatingService(_takeover_spec(), str(store))
    assert second.set_state(None) == 20  # a multiset: both copies are ratings
    assert second.queries_done == 0 and sorted(second.backlog) == [0, 1]
    assert second.advance(0)["rating/num_ratings"] == 10  # query 0 only, as scheduled
    second.advance(100)
    assert np.array_equal(second.labels, first.labels) and second.ratings_reused == 20
    third = RatingService(_takeover_spec(), str(store))
    assert third.set_state(second.get_state()) == 0  # nothing beyond the state


def test_stores_without_query_indices_count_per_query_ratings_a_query(tmp_path):
    store = RatedStore(tmp_path / "old")
    for seed in range(3):  # as written before query indices existed
        store.append(_segments(seed, count=10), np.zeros(10, np.int64))
    found = unrestored(store.root, [], OBS_DIM, ACT_DIM)
    assert len(found) == 30 and set(found.queries.tolist()) == {UNKNOWN_QUERY}
    assert {q: len(r) for q, r in found.by_query(0, per_query=10).items()} == {0: 10, 1: 10, 2: 10}
    assert {q: len(r) for q, r in found.by_query(5, per_query=20).items()} == {5: 20, 6: 10}


def test_a_stored_spec_without_first_fit_blocks_runs_as_it_was_stored(tmp_path):
    new = _spec(background=True)
    assert new["schedule"]["first_fit_blocks"] is True  # today's default
    stored = {
        **new,
        "schedule": {k: v for k, v in new["schedule"].items() if k != "first_fit_blocks"},
    }
    assert ExperimentSpec.from_stored(stored).schedule.first_fit_blocks is False
    assert ExperimentSpec.from_stored(new).schedule.first_fit_blocks is True
    assert "first_fit_blocks" not in stored["schedule"]  # the stored dict is left alone
    service = RatingService(stored, str(tmp_path / "old"))  # a checkpoint's, say
    service.add_segments(_segments(0))
    assert service.advance(100)["reward_model/version"] == 0  # the fit runs in the background
    assert service.get_state()["pending_fit"] is not None  # (waits for it)
