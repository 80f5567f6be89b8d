"""The torch-only floor of one PPO update: the paper's gradient steps and nothing else.

No env, no RLlib, no SB3: separate policy and value MLPs as the paper preset has
them (3×256 tanh, a free log-std), one synthetic rollout of `train_batch_size`
rows, and `num_epochs` shuffled passes of `minibatch_size` rows, each a clipped
PPO loss, backward, global-norm clip and Adam (the learner's kernel, `adam`).
Both learners pay at least this per iteration; whatever they take beyond it is
their own machinery.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from rbrl_ray.envs import get_task
from rbrl_ray.experiment import PPOSettings

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, p: PPOSettings) -> None:
        super().__init__()
        activation = {"tanh": nn.Tanh, "relu": nn.ReLU}[p.activation]
        self.pi = mlp([obs_dim, *p.hidden, act_dim], activation)
        self.vf = mlp([obs_dim, *p.hidden, 1], activation)
        self.log_std = nn.Parameter(torch.zeros(act_dim))

    def loss(self, batch: dict[str, torch.Tensor], p: PPOSettings) -> torch.Tensor:
        mean, log_std = self.pi(batch["obs"]), self.log_std
        # diagonal Gaussian log-likelihood, written out (torch.distributions costs more)
        logp = (-((batch["act"] - mean) ** 2) / (2 * (2 * log_std).exp()) - log_std).sum(-1)
        ratio = torch.exp(logp - HALF_LOG_2PI * mean.shape[-1] - batch["logp"])
        adv = batch["adv"]
        # clipped surrogate (Schulman et al. 2017, eq. 7)
        surrogate = torch.min(ratio * adv, ratio.clamp(1 - p.clip_param, 1 + p.clip_param) * adv)
        vf_loss = (self.vf(batch["obs"]).squeeze(-1) - batch["ret"]).pow(2).mean()
        return -surrogate.mean() + p.vf_loss_coeff * vf_loss


def synthetic_rollout(obs_dim: int, act_dim: int, rows: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "obs": torch.randn(rows, obs_dim, generator=g),
        "act": torch.randn(rows, act_dim, generator=g).clamp(-1, 1),
        "logp": torch.randn(rows, generator=g) - act_dim,
        "adv": torch.randn(rows, generator=g),
        "ret": torch.randn(rows, generator=g),
    }


def measure_update_floor(env: str, p: PPOSettings, iterations: int) -> dict[str, Any]:
    """Seconds for `iterations` updates of one rollout each, as env steps per second."""
    task = get_task(env)
    model = ActorCritic(task.obs_dim, task.act_dim, p)
    # the learner's kernel
    optimizer = torch.optim.Adam(model.parameters(), lr=p.lr, eps=p.adam_eps, **p.adam_kernel)
    batch = synthetic_rollout(task.obs_dim, task.act_dim, p.train_batch_size)
    rows = p.train_batch_size
    steps_per_epoch = rows // p.minibatch_size
    start = time.perf_counter()
    for _ in range(iterations):
        for _ in range(p.num_epochs):
            order = torch.randperm(rows)
            for i in range(steps_per_epoch):
                index = order[i * p.minibatch_size : (i + 1) * p.minibatch_size]
                loss = model.loss({k: v.index_select(0, index) for k, v in batch.items()}, p)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), p.grad_clip, foreach=True)
                optimizer.step()
    seconds = time.perf_counter() - start
    return {
        "steps": rows * iterations,
        "seconds": seconds,
        "gradient_steps": iterations * p.num_epochs * steps_per_epoch,
        "torch_threads": torch.get_num_threads(),
    }
