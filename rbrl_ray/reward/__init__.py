"""Reward model, rating losses, trainer and fidelity metrics."""

from rbrl_ray.reward.config import RewardModelConfig
from rbrl_ray.reward.metrics import Fidelity, evaluate_fidelity, predict_returns
from rbrl_ray.reward.model import RewardEnsemble
from rbrl_ray.reward.trainer import FitReport, RewardTrainer

__all__ = [
    "FitReport",
    "Fidelity",
    "RewardEnsemble",
    "RewardModelConfig",
    "RewardTrainer",
    "evaluate_fidelity",
    "predict_returns",
]
