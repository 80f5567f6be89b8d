"""The RLlib add-on, on real RLlib PPO and real dm_control physics at tiny budgets."""

import numpy as np
import pytest
import ray
import torch

from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec
from rbrl_ray.feedback.store import RatedStore, lineages, load_latest
from rbrl_ray.methods import ALL_METHODS, REWARD_METHODS
from rbrl_ray.rllib.ppo import RatingPPO, RatingPPOConfig
from rbrl_ray.rllib.service import EXPLORE, MODEL
from tests.rllib_probe import ProbedPPOLearner, ProbedRatingLearner, on_learner

pytestmark = pytest.mark.slow

TINY_MODEL = {"hidden": 32, "layers": 2, "max_epochs": 3}


def tiny_spec(method, env_runners=0, **schedule):
    # One iteration samples 1000 steps, i.e. 20 candidate segments.
    schedule = {"explore_steps": 0, "every": 1000, "per_query": 10, "total": 20, **schedule}
    ppo = PPO_PRESETS["small"].model_copy(update={"num_env_runners": env_runners})
    return ExperimentSpec(
        env="cartpole-balance",
        method=method,
        classes=None if method == "ppo" else 3,
        timesteps=10_000,
        schedule=schedule,
        reward_model=TINY_MODEL,
        ppo=ppo,
        evaluation={"episodes": 0},  # tests/test_evaluation.py
    )


def build(spec, tmp_path, learner_class=None):
    config = RatingPPOConfig.from_spec(spec, rating_dir=tmp_path / "ratings")
    if learner_class is not None:
        config.learners(learner_class=learner_class)
    return config.build_algo()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_gae_sees_reward_model_rewards_or_env_rewards_for_ppo(ray_local, tmp_path, method):
    spec = tiny_spec(method)
    learner = ProbedPPOLearner if method == "ppo" else ProbedRatingLearner
    algo = build(spec, tmp_path, learner)
    try:
        results = [algo.train() for _ in range(2)]
        records = on_learner(algo, lambda learner: learner.probe.records)
        assert len(records) == 2
        for record in records:
            assert record["has_advantages"]  # the probe really ran after GAE
            rewards, true = record["rewards"], record["true"]
            bootstrap = np.cumsum(np.array(record["lengths"]) + 1) - 1
            assert np.all(rewards[bootstrap] == 0.0)
            if method == "ppo":
                assert np.allclose(rewards, true)
            else:
                assert record["phase"] == MODEL
                assert np.allclose(rewards, record["expected"], atol=1e-6)
                assert not np.allclose(rewards, true, atol=1e-2)
        node = ray.get_runtime_context().get_node_id()  # one node here; each piece names it
        assert results[-1]["nodes/trial"] == node
        assert set(results[-1]["nodes/env_runners"].split(",")) == {node}
        if method == "ppo":
            assert "rating/num_ratings" not in results[-1]
            assert "nodes/rating_service" not in results[-1]
            return
        assert results[-1]["nodes/rating_service"] == node
        assert results[-1]["reward_model/device"] == "cpu"
        # ratings arrived, the model was refit, and the learner pulled the new weights
        assert results[0]["rating/num_ratings"] == 20  # queries due at 0 and 1000 steps
        assert results[0]["reward_model/version"] == 1
        assert [r["version"] for r in records] == [0, 1]
        assert -1.0 <= results[-1]["reward_model/pearson_true"] <= 1.0
        assert sum(results[-1]["rating/class_histogram"]) == 20
        service_weights = ray.get(algo.rating_service.reward_source.remote(None))[2]
        learner_weights = on_learner(algo, lambda learner: learner.relabeller.model.state_dict())
        assert all(torch.equal(service_weights[k], learner_weights[k]) for k in service_weights)
        has_sigma = {"ours": (1, 1), "ours_cls": (1, 0), "ours_reg": (0, 1)}.get(method, (0, 0))
        assert ("reward_model/sigma_cls" in results[0]) == bool(has_sigma[0])
        assert ("reward_model/sigma_reg" in results[0]) == bool(has_sigma[1])
        assert 0 < results[-1]["env_runners"]["episode_return_mean"] <= 1000 or np.isnan(
            results[-1]["env_runners"].get("episode_return_mean", np.nan)
        )
    finally:
        algo.stop()


def test_background_fits_reach_the_learner_one_iteration_later_but_the_first(ray_local, tmp_path):
    spec = tiny_spec("ours", background_fit=True, total=30)  # queries at 0, 1000, 2000
    algo = build(spec, tmp_path, ProbedRatingLearner)
    try:
        results = [algo.train() for _ in range(4)]
        records = on_learner(algo, lambda learner: learner.probe.records)
        # Iteration 1 rates 20 and fits before iteration 2 (no model yet); iteration 2
        # rates 10 more and starts a fit; iteration 3 still trains on the first model
        # while it runs; from iteration 4 on the learner has the second.
        assert [r["rating/num_ratings"] for r in results] == [20, 30, 30, 30]
        assert [r["reward_model/version"] for r in results] == [1, 1, 2, 2]
        assert [r["version"] for r in records] == [0, 1, 1, 2]
        for record in records:
            assert np.allclose(record["rewards"], record["expected"], atol=1e-6)
        service_weights = ray.get(algo.rating_service.reward_source.remote(None))[2]
        learner_weights = on_learner(algo, lambda learner: learner.relabeller.model.state_dict())
        assert all(torch.equal(service_weights[k], learner_weights[k]) for k in service_weights)
    finally:
        algo.stop()


def test_exploration_phase_trains_on_state_entropy_until_queries_start(ray_local, tmp_path):
    algo = build(tiny_spec("ours", explore_steps=1500), tmp_path, ProbedRatingLearner)
    try:
        first = algo.train()
        assert first["rating/num_ratings"] == 0 and first["reward_model/phase"] == EXPLORE
        second = algo.train()  # 2000 steps >= 1500: query 0 is due (query 1 at 2500)
        assert second["rating/num_ratings"] == 10 and second["reward_model/phase"] == MODEL
        records = on_learner(algo, lambda learner: learner.probe.records)
        assert [r["phase"] for r in records] == [EXPLORE, EXPLORE]
        for record in records:
            assert np.allclose(record["rewards"], record["expected"], atol=1e-5)
            assert record["rewards"].min() >= 0.0  # k-NN distances
    finally:
        algo.stop()


def _service_state(algo):
    return ray.get(algo.rating_service.get_state.remote())


def test_checkpoint_round_trip_keeps_ratings_and_weights_bit_for_bit(ray_local, tmp_path):
    spec = tiny_spec("ours", total=100)
    algo = build(spec, tmp_path)
    try:
        algo.train()  # 1000 steps: queries due at 0 and 1000 -> 20 ratings
        path = algo.save_to_path(str(tmp_path / "checkpoint"))
        before = _service_state(algo)
    finally:
        algo.stop()
    assert len(before["ratings"]["labels"]) == 20

    restored = RatingPPO.from_checkpoint(path)
    try:
        after = _service_state(restored)
        for key in ("obs", "act", "true_rewards", "labels"):
            assert np.array_equal(before["ratings"][key], after["ratings"][key])
        for key, tensor in before["trainer"]["model"].items():
            assert torch.equal(tensor, after["trainer"]["model"][key])
        for key in ("version", "queries_done", "env_steps"):
            assert before[key] == after[key]
        assert (
            before["trainer"]["optimizer"]["state"].keys()
            == after["trainer"]["optimizer"]["state"].keys()
        )
        # 2000 steps: only query 2 is due. Had the schedule position been lost, queries
        # 0-2 would all be due again and take 20 more ratings instead of 10.
        result = restored.train()
        assert result["rating/num_ratings"] == 30
        final = _service_state(restored)
        assert np.array_equal(final["ratings"]["labels"][:20], before["ratings"]["labels"])
        # on disk: the first run's lineage as it was, and the restored run's lineage
        # holding exactly the trial's current ratings
        first, current = lineages(tmp_path / "ratings")
        assert np.array_equal(RatedStore(first).load()[1], before["ratings"]["labels"])
        assert np.array_equal(load_latest(tmp_path / "ratings")[1], final["ratings"]["labels"])
    finally:
        restored.stop()


def test_a_trial_rewound_to_a_checkpoint_gets_its_later_ratings_on_schedule(ray_local, tmp_path):
    """An attempt after a kill restores an earlier checkpoint: the ratings the killed
    attempt made after it are used as their queries fall due, never asked again (taken
    all at once they put ratings iterations ahead of the schedule: the records in
    results/campaign_v2/superseded)."""
    spec = tiny_spec("ours", total=100)
    algo = build(spec, tmp_path)
    try:
        algo.train()  # queries 0 and 1: 20 ratings
        path = algo.save_to_path(str(tmp_path / "checkpoint"))
        killed = [algo.train()["rating/num_ratings"] for _ in range(2)]  # queries 2, 3
    finally:
        algo.stop()
    assert killed == [30, 40]
    restored = RatingPPO.from_checkpoint(path)
    try:
        again = [restored.train() for _ in range(3)]
    finally:
        restored.stop()
    assert [r["rating/num_ratings"] for r in again] == [30, 40, 50]  # the schedule's
    assert [r.get("rating/ratings_reused", 0) for r in again] == [10, 20, 20]


def test_reward_methods_are_the_five_and_ppo_has_no_service(ray_local, tmp_path):
    assert set(REWARD_METHODS) == set(ALL_METHODS) - {"ppo"}
    algo = build(tiny_spec("ppo"), tmp_path)
    try:
        assert algo.rating_service is None
        assert not (tmp_path / "ratings").exists()
    finally:
        algo.stop()
