"""RatingService as a plain object: blocking and background fits publish the same model,
a background fit is published one advance later, and a checkpoint taken while it runs
keeps it."""

import numpy as np
import pytest
import torch

from rbrl_ray.experiment import ExperimentSpec, RatingSchedule
from rbrl_ray.feedback.segments import cut_segments
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
    untrained = background.reward_source(None)[2]

    m_block = blocking.advance(100)
    m_back = background.advance(100)
    assert m_block["reward_model/version"] == 1 and blocking.phase == MODEL
    # The background fit runs; learners keep the untrained model and the explore phase.
    assert m_back["reward_model/version"] == 0 and m_back["rating/num_ratings"] == 40
    assert background.phase == EXPLORE
    key, _, weights = background.reward_source(None)
    assert key[1] == 0 and _equal(weights, untrained)

    # Nothing due at step 150; the finished fit is published now, and it is the very
    # model the blocking service fitted on the same ratings.
    background.add_segments(_segments(1))
    m_back = background.advance(150)
    assert m_back["reward_model/version"] == 1 and background.phase == MODEL
    assert m_back["reward_model/fit_running"] is False
    assert _equal(background.reward_source(None)[2], blocking.reward_source(None)[2])
    assert m_back["reward_model/fit_epochs"] == m_block["reward_model/fit_epochs"]


def test_checkpoint_during_background_fit_keeps_it(tmp_path):
    service = _service(tmp_path, background=True, name="a")
    service.advance(100)  # starts a fit
    state = service.get_state()  # waits for it; it is pending, not yet published
    assert state["version"] == 0 and state["pending_fit"] is not None
    fitted = service.trainer.state_dict()["model"]

    restored = RatingService(_spec(True), str(tmp_path / "b"))
    restored.set_state(state)
    assert restored.version == 0
    assert _equal(restored.reward_source(None)[2], state["published"])
    restored.add_segments(_segments(1))
    metrics = restored.advance(150)
    assert metrics["reward_model/version"] == 1
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
