"""Rating losses of RbRL (White et al. 2024) and the multi-task paper (arXiv 2506.09183).

All functions work on a leading batch of ensemble members: predicted segment
returns R̂ have shape [..., B] for a minibatch of B segments, with labels y of
shape [B] (shared) or [..., B] (each member its own minibatch).
Equation numbers are the paper's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

_FLAT = 1e-8  # a minibatch whose predicted returns span less than this is flat


def normalise_returns(returns: torch.Tensor) -> torch.Tensor:
    """R̃ = (R̂ − min_X R̂) / (max_X R̂ − min_X R̂) over the minibatch X (last dim).

    A flat minibatch (max = min) maps to all zeros instead of 0/0.
    """
    low = returns.min(dim=-1, keepdim=True).values
    span = returns.max(dim=-1, keepdim=True).values - low
    return (returns - low) / torch.where(span > _FLAT, span, torch.ones_like(span))


def class_boundaries(normalised: torch.Tensor, labels: torch.Tensor, n: int) -> torch.Tensor:
    """Class boundaries R_0..R_n [..., n + 1] from the minibatch's label counts.

    With c_i = Σ_{j≤i} n_j: R_0 = 0 and R_{i+1} = the c_i-th smallest R̃, so the
    predicted returns are split in the proportions of the ratings and R_n = max = 1.
    Where c_i = 0 (no segment rated ≤ i) the boundary is 0: a missing lowest class
    has zero width rather than borrowing its neighbour's index (the public RbRL
    code's bug). Boundaries carry no gradient.
    """
    counts = F.one_hot(labels, n).sum(dim=-2)  # n_j, [..., n]
    cumulative = counts.cumsum(dim=-1)  # c_0 .. c_{n-1}
    ordered = normalised.detach().sort(dim=-1).values
    index = (cumulative - 1).clamp(min=0).expand(*ordered.shape[:-1], n)
    upper = ordered.gather(-1, index)
    upper = torch.where(cumulative > 0, upper, torch.zeros_like(upper))
    lowest = torch.zeros_like(upper[..., :1])
    return torch.cat([lowest, upper], dim=-1)


def class_logits(normalised: torch.Tensor, bounds: torch.Tensor, k: float) -> torch.Tensor:
    """Logits [..., B, n] of eq. 2: −k (R̃ − R_i)(R̃ − R_{i+1}); positive inside class i."""
    x = normalised.unsqueeze(-1)
    lower, upper = bounds[..., None, :-1], bounds[..., None, 1:]
    return -k * (x - lower) * (x - upper)


def class_probabilities(normalised: torch.Tensor, bounds: torch.Tensor, k: float) -> torch.Tensor:
    """Q_σ(i) = softmax_i(−k (R̃(σ) − R_i)(R̃(σ) − R_{i+1}))   (eq. 2)."""
    return class_logits(normalised, bounds, k).softmax(dim=-1)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_cls = −mean_σ log Q_σ(y_σ)   (eq. 1); one value per leading index."""
    log_q = logits.log_softmax(dim=-1)
    picked = log_q.gather(-1, labels.expand(*log_q.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    return -picked.mean(dim=-1)


def rating_targets(labels: torch.Tensor, n: int, alpha: float) -> torch.Tensor:
    """Rating-induced target t(y) ∈ [0, 1]   (eq. 3, reconstructed).

    The paper's formula did not survive text extraction; it is "logarithmic, with a
    scaling factor α". This project uses t(y) = log(1 + α y) / log(1 + α (n − 1)),
    which maps class 0 to 0 and the top class to 1; α → 0 gives the linear y / (n − 1).
    """
    y = labels.to(torch.float32)
    if alpha == 0:
        return y / (n - 1)
    return torch.log1p(alpha * y) / math.log1p(alpha * (n - 1))


def regression_loss(normalised: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """L_reg = mean_σ (R̃(σ) − t(y_σ))²   (eq. 4); one value per leading index."""
    return F.mse_loss(normalised, targets.expand_as(normalised), reduction="none").mean(dim=-1)


# What each method does with the two losses. A term is off (None), a fixed weight,
# or LEARNED: weighted by a learnable log-variance s as in eq. 5.
LEARNED = "learned"


@dataclass(frozen=True)
class LossRecipe:
    cls: float | str | None
    reg: float | str | None


RECIPES: dict[str, LossRecipe] = {
    "rbrl": LossRecipe(cls=1.0, reg=None),
    "ours": LossRecipe(cls=LEARNED, reg=LEARNED),
    "ours_equal": LossRecipe(cls=0.5, reg=0.5),
    "ours_cls": LossRecipe(cls=LEARNED, reg=None),
    "ours_reg": LossRecipe(cls=None, reg=LEARNED),
}


class RatingLoss(nn.Module):
    """The reward-model loss of one method, with its learnable log-variances.

    s_cls = log σ_cls², s_reg = log σ_reg², one pair per ensemble member (each
    member is its own model), initialised to 0 (σ = 1).
    Eq. 5 (Kendall et al. 2018): L = e^{−s1} L_cls + ½ e^{−s2} L_reg + ½ s1 + ½ s2.
    """

    def __init__(self, method: str, n_classes: int, members: int, k: float, alpha: float):
        super().__init__()
        self.recipe = RECIPES[method]
        self.n_classes, self.k, self.alpha = n_classes, k, alpha
        self.log_var_cls = nn.Parameter(torch.zeros(members))
        self.log_var_reg = nn.Parameter(torch.zeros(members))

    def forward(
        self, returns: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss summed over members, and the classification logits [M, B, n]."""
        normalised = normalise_returns(returns)
        bounds = class_boundaries(normalised, labels, self.n_classes)
        logits = class_logits(normalised, bounds, self.k)
        total = torch.zeros_like(returns[..., 0])
        if self.recipe.cls == LEARNED:
            s1 = self.log_var_cls
            total = total + torch.exp(-s1) * classification_loss(logits, labels) + 0.5 * s1
        elif self.recipe.cls is not None:
            total = total + self.recipe.cls * classification_loss(logits, labels)
        if self.recipe.reg is not None:
            targets = rating_targets(labels, self.n_classes, self.alpha)
            l_reg = regression_loss(normalised, targets)
            if self.recipe.reg == LEARNED:
                s2 = self.log_var_reg
                total = total + 0.5 * torch.exp(-s2) * l_reg + 0.5 * s2
            else:
                total = total + self.recipe.reg * l_reg
        return total.sum(), logits

    def sigmas(self) -> tuple[float | None, float | None]:
        """Mean σ_cls and σ_reg over members (σ = e^{s/2}); None for an unlearned term."""

        def sigma(recipe_term: float | str | None, log_var: torch.Tensor) -> float | None:
            if recipe_term != LEARNED:
                return None
            return float(torch.exp(0.5 * log_var.detach()).mean())

        return sigma(self.recipe.cls, self.log_var_cls), sigma(self.recipe.reg, self.log_var_reg)
