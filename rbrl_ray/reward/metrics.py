"""How well a reward model's segment returns agree with the true ones.

Held-out rating accuracy classifies each held-out segment with thresholds learned
from the training ratings: the predicted returns of the training segments are
split in the proportions of their labels (the rule of the class boundaries in the
loss, applied to the whole training set), so no held-out label is used.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import stats

from rbrl_ray.feedback.segments import Segments
from rbrl_ray.reward.model import RewardEnsemble


@torch.no_grad()
def member_returns(model: RewardEnsemble, segments: Segments, chunk: int = 256) -> np.ndarray:
    """Each member's predicted segment return R̂, [M, N]."""
    model.eval()
    parts = []
    for first in range(0, len(segments), chunk):
        part = segments.take(slice(first, first + chunk))
        device = next(model.parameters()).device
        rewards = model(torch.as_tensor(part.obs, device=device),
                        torch.as_tensor(part.act, device=device))  # fmt: skip
        parts.append(rewards.sum(dim=-1).cpu().numpy())
    if not parts:
        return np.zeros((model.members, 0), np.float32)
    return np.concatenate(parts, axis=1)


def predict_returns(model: RewardEnsemble, segments: Segments) -> np.ndarray:
    """The ensemble-mean predicted segment return, [N]."""
    return member_returns(model, segments).mean(axis=0)


def class_thresholds(predicted: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """n − 1 thresholds on predicted returns: the c_i-th smallest, c_i = #labels ≤ i."""
    ordered = np.sort(predicted)
    cumulative = np.bincount(labels, minlength=n)[:n].cumsum()[:-1]
    return np.where(cumulative > 0, ordered[np.maximum(cumulative - 1, 0)], -np.inf)


def classify(predicted: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Class of each predicted return: how many thresholds lie strictly below it."""
    return np.searchsorted(thresholds, predicted, side="left")


@dataclass(frozen=True)
class Fidelity:
    accuracy: float
    pearson: float | None
    spearman: float | None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


def _correlation(kind: str, x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson or Spearman r; None where it is undefined (a constant input)."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    r = stats.pearsonr(x, y)[0] if kind == "pearson" else stats.spearmanr(x, y)[0]
    return None if math.isnan(r) else float(r)


def evaluate_fidelity(
    model: RewardEnsemble,
    train: Segments,
    train_labels: np.ndarray,
    heldout: Segments,
    heldout_labels: np.ndarray,
    n_classes: int,
) -> Fidelity:
    """Held-out rating accuracy and correlations of predicted vs true segment return."""
    thresholds = class_thresholds(predict_returns(model, train), train_labels, n_classes)
    predicted = predict_returns(model, heldout)
    accuracy = float((classify(predicted, thresholds) == heldout_labels).mean())
    truth = heldout.true_returns
    return Fidelity(
        accuracy,
        _correlation("pearson", predicted, truth),
        _correlation("spearman", predicted, truth),
    )
