"""Synthetic rater: the class of a segment is the bin of its true return.

Bins are equal-width on [low, high] (default [0, T]: DMC per-step rewards lie in
[0, 1]). Noise models, in the order applied:

- beta (Boltzmann): instead of the bin, sample class i with probability
  proportional to exp(-beta * |x - (i + 1/2)|), x the return in class units
  (x in [0, n]). beta -> inf recovers the bin; beta = 0 is uniform.
- mistake (epsilon): with probability epsilon the label moves to an adjacent
  class (either side with equal chance; the edge classes can only move inward).
- skip: with probability p the segment is not rated (label SKIPPED).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field, ValidationError, model_validator

from rbrl_ray.feedback.segments import SEGMENT_LENGTH
from rbrl_ray.validation import ClassCount, StrictModel, error_line

SKIPPED = -1
NOISE_KEYS: tuple[str, ...] = ("mistake", "beta", "skip")


class RaterNoise(StrictModel):
    """How the synthetic rater departs from the true bin."""

    mistake: float = Field(0.0, ge=0.0, le=1.0, description="P(label moves to an adjacent class)")
    beta: float | None = Field(None, ge=0.0, description="Boltzmann rationality; None = exact")
    skip: float = Field(0.0, ge=0.0, lt=1.0, description="P(segment left unrated)")


class RaterConfig(StrictModel):
    """Class count, rating range and noise of a synthetic rater."""

    n_classes: ClassCount
    low: float = 0.0
    high: float = float(SEGMENT_LENGTH)
    noise: RaterNoise = RaterNoise()

    @model_validator(mode="after")
    def _range_is_ordered(self) -> RaterConfig:
        if not self.high > self.low:
            raise ValueError(f"rating range needs high > low, got [{self.low}, {self.high}]")
        return self


class SyntheticRater:
    """Rates segments from their true returns (see the module docstring)."""

    def __init__(self, config: RaterConfig) -> None:
        self.config = config

    @property
    def n_classes(self) -> int:
        return self.config.n_classes

    def bin_edges(self) -> np.ndarray:
        """The n + 1 edges of the equal-width bins."""
        return np.linspace(self.config.low, self.config.high, self.n_classes + 1)

    def class_units(self, true_returns: np.ndarray) -> np.ndarray:
        """Returns mapped onto [0, n]: class i covers [i, i + 1)."""
        c = self.config
        x = (np.asarray(true_returns, np.float64) - c.low) / (c.high - c.low) * self.n_classes
        return np.clip(x, 0.0, self.n_classes)

    def exact_classes(self, true_returns: np.ndarray) -> np.ndarray:
        """The noiseless bin of each return; the top edge belongs to the top class."""
        x = self.class_units(true_returns)
        return np.minimum(np.floor(x), self.n_classes - 1).astype(np.int64)

    def boltzmann_probabilities(self, true_returns: np.ndarray, beta: float) -> np.ndarray:
        """[N, n] class probabilities of the Boltzmann rater."""
        x = self.class_units(true_returns)
        centres = np.arange(self.n_classes) + 0.5
        utility = -np.abs(x[:, None] - centres[None, :])
        logits = beta * utility
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def rate(self, true_returns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One label per return: a class in [0, n) or SKIPPED."""
        noise = self.config.noise
        n = self.n_classes
        if noise.beta is None:
            labels = self.exact_classes(true_returns)
        else:
            p = self.boltzmann_probabilities(true_returns, noise.beta)
            u = rng.random((len(p), 1))
            labels = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), n - 1).astype(np.int64)
        if noise.mistake > 0:
            labels = _move_to_neighbour(labels, noise.mistake, n, rng)
        if noise.skip > 0:
            labels = np.where(rng.random(len(labels)) < noise.skip, SKIPPED, labels)
        return labels


def _move_to_neighbour(
    labels: np.ndarray, epsilon: float, n: int, rng: np.random.Generator
) -> np.ndarray:
    wrong = rng.random(len(labels)) < epsilon
    step = np.where(rng.random(len(labels)) < 0.5, -1, 1)
    step = np.where(labels == 0, 1, np.where(labels == n - 1, -1, step))
    return np.where(wrong, labels + step, labels)


def parse_noise(settings: list[str]) -> RaterNoise:
    """RaterNoise from KEY=VALUE strings (keys: mistake, beta, skip).

    Raises ValueError with one line naming the bad setting and the allowed keys.
    """
    values: dict[str, float] = {}
    for item in settings:
        key, sep, text = item.partition("=")
        if not sep or key not in NOISE_KEYS:
            raise ValueError(
                f"unknown noise setting {item!r}; allowed: "
                + ", ".join(f"{k}=VALUE" for k in NOISE_KEYS)
            )
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"noise setting {key} needs a number, got {text!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"noise setting {key} must be finite, got {text!r}")
        values[key] = value
    try:
        return RaterNoise(**values)
    except ValidationError as err:
        raise ValueError(f"noise setting {error_line(err)}") from None
