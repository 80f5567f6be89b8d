"""Fits the reward ensemble to rated segments with one method's loss.

Per fit (RbRL / B-Pref): up to `max_epochs` passes over every rating so far in
minibatches of `batch_size` segments, each member in its own random order,
stopping once the epoch's training rating accuracy reaches `target_accuracy`.
The model, loss weights and optimiser persist across fits, so a trainer can be
refit after each query. On a GPU (`device`), the minibatch order still comes from
the CPU generator (the same draws as on CPU) and the members run batched; the
state it hands out (`state_dict`) is always on CPU, so checkpoints and the weights
published to the learners load anywhere.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rbrl_ray.feedback.segments import Segments, ratings_digest
from rbrl_ray.reward.config import RewardModelConfig
from rbrl_ray.reward.device import fit_device, on_cpu
from rbrl_ray.reward.losses import RECIPES, RatingLoss
from rbrl_ray.reward.model import RewardEnsemble


@dataclass(frozen=True)
class FitReport:
    """How one fit went. σ's are None for a method that does not learn them."""

    epochs: int
    train_accuracy: float
    loss: float
    sigma_cls: float | None
    sigma_reg: float | None
    seconds: float
    # what it was fit on (0 and "" in checkpoints from before these fields)
    ratings: int = 0
    ratings_digest: str = ""  # feedback.segments.ratings_digest of its data


EpochCallback = Callable[[int, float], None]  # (epoch, training accuracy)


class RewardTrainer:
    """Owns a reward ensemble, its method's loss and their optimiser."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        n_classes: int,
        method: str,
        config: RewardModelConfig | None = None,
        seed: int = 0,
    ) -> None:
        if method not in RECIPES:
            raise ValueError(f"unknown reward method {method!r}; allowed: {', '.join(RECIPES)}")
        config = config or RewardModelConfig()
        self.config, self.n_classes, self.method = config, n_classes, method
        self.device = fit_device(config.device)
        torch.manual_seed(seed)
        self.model = RewardEnsemble(obs_dim, act_dim, config.members, config.hidden, config.layers)
        self.loss = RatingLoss(method, n_classes, config.members, config.k, config.alpha)
        self.model.to(self.device), self.loss.to(self.device)
        params = [*self.model.parameters(), *self.loss.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=config.lr)
        self.generator = torch.Generator().manual_seed(seed)

    def fit(
        self, segments: Segments, labels: np.ndarray, on_epoch: EpochCallback | None = None
    ) -> FitReport:
        """Train on every (segment, label) given; returns the last epoch's figures."""
        start = time.perf_counter()
        obs = torch.as_tensor(segments.obs, dtype=torch.float32, device=self.device)
        act = torch.as_tensor(segments.act, dtype=torch.float32, device=self.device)
        y = torch.as_tensor(labels, dtype=torch.int64, device=self.device)
        epochs, accuracy, loss = 0, 0.0, float("nan")
        self.model.train()
        for epoch in range(1, self.config.max_epochs + 1):
            accuracy, loss = self._epoch(obs, act, y)
            epochs = epoch
            if on_epoch is not None:
                on_epoch(epoch, accuracy)
            if accuracy >= self.config.target_accuracy:
                break
        sigma_cls, sigma_reg = self.loss.sigmas()
        seconds = time.perf_counter() - start
        digest = ratings_digest(segments, labels)
        return FitReport(epochs, accuracy, loss, sigma_cls, sigma_reg, seconds, len(y), digest)

    def _epoch(self, obs: torch.Tensor, act: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        members, total = self.config.members, len(y)
        order = torch.stack(
            [torch.randperm(total, generator=self.generator) for _ in range(members)]
        ).to(self.device)
        correct, seen, loss_sum, steps = 0, 0, 0.0, 0
        for first in range(0, total, self.config.batch_size):
            index = order[:, first : first + self.config.batch_size]  # [M, b]
            if index.shape[1] < 2:  # normalisation needs two segments
                continue
            labels = y[index]
            batched = self.device.type == "cuda"
            returns = self.model.per_member(obs[index], act[index], batched).sum(dim=-1)  # R̂
            loss, logits = self.loss(returns, labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            correct += int((logits.argmax(dim=-1) == labels).sum())
            seen += labels.numel()
            loss_sum += loss.item()
            steps += 1
        return correct / max(seen, 1), loss_sum / max(steps, 1)

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (deep copy, on CPU): later training never changes what was returned."""
        return on_cpu(
            copy.deepcopy(
                {
                    "model": self.model.state_dict(),
                    "loss": self.loss.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "generator": self.generator.get_state(),
                }
            )
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.loss.load_state_dict(state["loss"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
