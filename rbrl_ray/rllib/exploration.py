"""Intrinsic state-entropy reward for exploration before the first rating query.

As in the public RbRL code (inherited from B-Pref / unsupervised pre-training):
each step's reward is the distance from its observation to its k-th nearest
neighbour among the batch's observations, divided by the batch's standard
deviation of those distances, so rarely visited states pay more.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def state_entropy_reward(obs: torch.Tensor, k: int = 5, chunk: int = 1024) -> torch.Tensor:
    """Normalised k-NN distance per row of obs [N, d] -> [N]."""
    n = obs.shape[0]
    if n <= k:
        return torch.zeros(n)
    obs = obs.to(torch.float32)
    # k + 1: each row's nearest neighbour is itself, at distance 0. topk of k + 1
    # values gives the same distances as kthvalue, 3-6x faster on a 16k batch.
    distances = torch.cat(
        [
            torch.cdist(part, obs).topk(k + 1, dim=1, largest=False).values[:, -1]
            for part in obs.split(chunk)
        ]
    )
    return distances / (distances.std() + 1e-8)
