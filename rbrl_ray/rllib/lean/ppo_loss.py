"""PPO's loss on one minibatch, term by term (Schulman et al. 2017, arXiv 1707.06347).

The same arithmetic, in the same order, as RLlib 2.60's
`PPOTorchLearner.compute_loss_for_module` without its KL penalty (the paper's
PPO has none), so a learner using it takes bit-for-bit the same gradient steps.
What it leaves out is RLlib's per-minibatch bookkeeping: the statistics are
computed only when asked for (`loss_stats`), once per update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from ray.rllib.algorithms.ppo.ppo import (
    LEARNER_RESULTS_KL_KEY,
    LEARNER_RESULTS_VF_EXPLAINED_VAR_KEY,
    LEARNER_RESULTS_VF_LOSS_UNCLIPPED_KEY,
)
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchDiagGaussian
from ray.rllib.core.learner.learner import ENTROPY_KEY, POLICY_LOSS_KEY, VF_LOSS_KEY
from ray.rllib.core.models.torch.heads import TorchMLPHead
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.torch_utils import explained_variance

from rbrl_ray.metric_names import ACTION_STD_KEY, APPROX_KL_KEY
from rbrl_ray.rllib.lean.policy_forward import action_dist_inputs, has_free_log_std_actor

#: The train-batch columns the loss reads.
LOSS_COLUMNS = (
    Columns.OBS,
    Columns.ACTIONS,
    Columns.ACTION_LOGP,
    Postprocessing.ADVANTAGES,
    Postprocessing.VALUE_TARGETS,
)


@dataclass(frozen=True)
class PPOCoefficients:
    clip_param: float  # ε
    vf_loss_coeff: float  # c1
    entropy_coeff: float  # c2
    vf_clip_param: float  # the value loss is clamped to [0, this]; inf: not at all


@dataclass
class PPOLossTerms:
    """Per-row terms of one minibatch, kept for the statistics of the last one."""

    total: torch.Tensor
    surrogate: torch.Tensor
    vf_loss: torch.Tensor
    vf_loss_clipped: torch.Tensor
    values: torch.Tensor
    entropy: torch.Tensor
    value_targets: torch.Tensor
    masked_mean: Callable[[torch.Tensor], torch.Tensor]
    log_ratio: torch.Tensor  # log r_t(θ)
    action_std: torch.Tensor  # σ of the action distribution, per row and action dim


def masked_mean_of(batch: dict[str, torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Mean over real rows: the bootstrap row RLlib adds to each episode is masked."""
    if Columns.LOSS_MASK not in batch:
        return torch.mean
    mask = batch[Columns.LOSS_MASK]
    num_valid = torch.sum(mask)
    return lambda data: torch.sum(data[mask]) / num_valid


def _has_plain_layers(module: Any) -> bool:
    """RLlib's default PPO module as the paper preset builds it: separate pi and vf
    MLPs, a free log-std, a diagonal Gaussian, no state."""
    return (
        has_free_log_std_actor(module)
        and type(module.vf) is TorchMLPHead
        and not module.vf.clip_log_std
        and hasattr(module.encoder, "critic_encoder")
        and not module.is_stateful()
        and module.get_train_action_dist_cls() is TorchDiagGaussian
    )


def _policy_and_values(module: Any, batch: dict[str, torch.Tensor]) -> tuple[Any, torch.Tensor]:
    """The train-time action distribution and V(s) of the module (module in train mode).

    For the paper preset's module: its own layers, in RLlib's order, and torch's
    Normal as RLlib's TorchDiagGaussian holds it, without the model wrappers'
    dicts and the train() call of every forward_train (a fifth of a gradient
    step's time at minibatch 128). Otherwise the module's own forward_train.
    """
    if not _has_plain_layers(module):
        out = module.forward_train(batch)
        dist = module.get_train_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
        values = module.compute_values(batch, embeddings=out.get(Columns.EMBEDDINGS))
        return dist, values
    obs = batch[Columns.OBS]
    inputs = action_dist_inputs(module, obs)
    critic = obs
    for layer in module.encoder.critic_encoder.net.mlp:
        critic = layer(critic)
    loc, log_std = inputs.chunk(2, dim=-1)  # TorchDiagGaussian.from_logits
    dist = _DiagGaussian(torch.distributions.Normal(loc, log_std.exp(), validate_args=False))
    values = module.vf.net.mlp(critic).squeeze(-1)
    return dist, values


@dataclass(frozen=True)
class _DiagGaussian:
    """TorchDiagGaussian's logp and entropy (summed over the action dims)."""

    normal: torch.distributions.Normal

    def logp(self, value: torch.Tensor) -> torch.Tensor:
        return self.normal.log_prob(value).sum(-1)

    def entropy(self) -> torch.Tensor:
        return self.normal.entropy().sum(-1)


def ppo_loss(module: Any, batch: dict[str, torch.Tensor], c: PPOCoefficients) -> PPOLossTerms:
    """Forward pass of pi and vf on `batch` and PPO's loss (eq. 9) over it."""
    dist, values = _policy_and_values(module, batch)
    masked_mean = masked_mean_of(batch)

    # r_t(θ) = π_θ(a|s) / π_θ_old(a|s)
    log_ratio = dist.logp(batch[Columns.ACTIONS]) - batch[Columns.ACTION_LOGP]
    ratio = torch.exp(log_ratio)
    entropy = dist.entropy()  # S[π_θ](s)

    # L^CLIP (eq. 7): min(r_t Â_t, clip(r_t, 1 - ε, 1 + ε) Â_t)
    advantages = batch[Postprocessing.ADVANTAGES]
    surrogate = torch.min(
        advantages * ratio,
        advantages * torch.clamp(ratio, 1 - c.clip_param, 1 + c.clip_param),
    )

    # L^VF (eq. 9): (V_θ(s_t) - V_t^targ)²
    targets = batch[Postprocessing.VALUE_TARGETS]
    vf_loss = torch.pow(values - targets, 2.0)
    vf_loss_clipped = torch.clamp(vf_loss, 0, c.vf_clip_param)

    # eq. 9, as a loss to minimise: -L^CLIP + c1 L^VF - c2 S
    total = masked_mean(-surrogate + c.vf_loss_coeff * vf_loss_clipped - c.entropy_coeff * entropy)
    return PPOLossTerms(
        total,
        surrogate,
        vf_loss,
        vf_loss_clipped,
        values,
        entropy,
        targets,
        masked_mean,
        log_ratio,
        _scale(dist),
    )


def _scale(dist: Any) -> torch.Tensor:
    """σ of a diagonal Gaussian: ours (`normal`) or RLlib's TorchDiagGaussian (`_dist`)."""
    normal = getattr(dist, "normal", None) or dist._dist
    return normal.scale


def loss_stats(terms: PPOLossTerms) -> dict[str, torch.Tensor]:
    """The statistics RLlib's PPO reports, under its own keys."""
    mean = terms.masked_mean
    with torch.no_grad():
        return {
            POLICY_LOSS_KEY: -mean(terms.surrogate),
            VF_LOSS_KEY: mean(terms.vf_loss_clipped),
            LEARNER_RESULTS_VF_LOSS_UNCLIPPED_KEY: mean(terms.vf_loss),
            LEARNER_RESULTS_VF_EXPLAINED_VAR_KEY: explained_variance(
                terms.value_targets, terms.values
            ),
            ENTROPY_KEY: mean(terms.entropy),
            LEARNER_RESULTS_KL_KEY: torch.tensor(0.0, device=terms.total.device),
            # KL(π_old ‖ π_θ) ≈ E[(r - 1) - log r] (Schulman's k3 estimator; SB3's approx_kl)
            APPROX_KL_KEY: mean(torch.expm1(terms.log_ratio) - terms.log_ratio),
            ACTION_STD_KEY: terms.action_std.mean(),
        }
