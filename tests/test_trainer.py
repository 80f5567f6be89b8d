"""Reward trainer on rated segments whose true return depends on the observation."""

import numpy as np
import pytest
import torch

from rbrl_ray.feedback import RaterConfig, Segments, SyntheticRater
from rbrl_ray.reward import RewardModelConfig, RewardTrainer, evaluate_fidelity, predict_returns
from rbrl_ray.reward.metrics import class_thresholds, classify


def _rated(n, seed):
    """Segments whose per-step true reward is sigmoid(obs[0]) and obs[0] drifts per segment."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(-3, 3, size=(n, 1, 1))
    obs = (level + 0.3 * rng.normal(size=(n, 50, 3))).astype(np.float32)
    act = rng.uniform(-1, 1, size=(n, 50, 1)).astype(np.float32)
    rewards = (1 / (1 + np.exp(-obs[..., 0]))).astype(np.float32)
    segments = Segments(obs, act, rewards)
    return segments, SyntheticRater(RaterConfig(n_classes=3)).exact_classes(segments.true_returns)


SMALL = dict(hidden=32, layers=2, batch_size=64)


@pytest.mark.parametrize("method", ["rbrl", "ours", "ours_equal", "ours_cls", "ours_reg"])
def test_fit_learns_the_ordering_of_true_returns(method):
    train, train_labels = _rated(384, seed=0)
    test, test_labels = _rated(256, seed=1)
    config = RewardModelConfig(max_epochs=40, lr=3e-3, **SMALL)
    trainer = RewardTrainer(3, 1, 3, method, config, seed=0)
    before = evaluate_fidelity(trainer.model, train, train_labels, test, test_labels, 3)
    report = trainer.fit(train, train_labels)
    after = evaluate_fidelity(trainer.model, train, train_labels, test, test_labels, 3)
    assert after.spearman > 0.9 and after.accuracy > 0.8
    assert after.accuracy > before.accuracy
    assert 1 <= report.epochs <= 40
    learned = {"ours": (True, True), "ours_cls": (True, False), "ours_reg": (False, True)}
    has_cls, has_reg = learned.get(method, (False, False))
    assert (report.sigma_cls is not None) == has_cls
    assert (report.sigma_reg is not None) == has_reg


def test_fit_stops_early_once_training_accuracy_reaches_target():
    train, labels = _rated(256, seed=2)
    config = RewardModelConfig(max_epochs=50, target_accuracy=0.6, lr=3e-3, **SMALL)
    seen = []
    report = RewardTrainer(3, 1, 3, "rbrl", config).fit(
        train, labels, on_epoch=lambda e, a: seen.append(a)
    )
    assert report.epochs < 50 and report.epochs == len(seen)
    assert seen[-1] >= 0.6 and all(a < 0.6 for a in seen[:-1])


def test_state_dict_round_trip_restores_predictions_and_optimiser():
    train, labels = _rated(128, seed=3)
    config = RewardModelConfig(max_epochs=2, **SMALL)
    trainer = RewardTrainer(3, 1, 3, "ours", config, seed=0)
    trainer.fit(train, labels)
    restored = RewardTrainer(3, 1, 3, "ours", config, seed=99)
    restored.load_state_dict(trainer.state_dict())
    assert np.array_equal(
        predict_returns(trainer.model, train), predict_returns(restored.model, train)
    )
    # both continue identically: same weights, optimiser moments and shuffling state
    trainer.fit(train, labels)
    restored.fit(train, labels)
    for a, b in zip(trainer.model.parameters(), restored.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_thresholds_follow_training_label_proportions():
    predicted = np.array([5.0, 1.0, 3.0, 2.0, 4.0, 6.0])
    labels = np.array([1, 0, 1, 0, 1, 2])  # c = 2, 5 -> thresholds: 2nd and 5th smallest
    thresholds = class_thresholds(predicted, labels, 3)
    assert thresholds.tolist() == [2.0, 5.0]
    assert classify(np.array([0.5, 2.0, 2.5, 5.0, 7.0]), thresholds).tolist() == [0, 0, 1, 1, 2]
    # class 0 absent from training: nothing falls below the first threshold
    assert class_thresholds(predicted, np.array([1, 1, 1, 2, 2, 2]), 3)[0] == -np.inf
