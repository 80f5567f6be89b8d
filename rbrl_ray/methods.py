"""The six methods of the paper's grid: every fact about each, in one place.

The loss each reward method trains with is in `rbrl_ray.reward.losses.RECIPES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MethodId = Literal["ppo", "rbrl", "ours", "ours_equal", "ours_cls", "ours_reg"]


@dataclass(frozen=True)
class Method:
    id: str
    label: str  # in tables and legends
    colour: str  # a matplotlib colour, the same in every figure
    description: str
    learns_reward: bool = True  # False: the policy trains on the environment reward


METHODS: dict[str, Method] = {
    m.id: m
    for m in (
        Method("ppo", "PPO (env reward)", "black",
               "PPO on the environment reward (upper reference)", learns_reward=False),
        Method("rbrl", "RbRL", "tab:blue", "classification loss only (White et al. 2024)"),
        Method("ours", "Ours", "tab:red",
               "classification + regression, both weights learned (eq. 5)"),
        Method("ours_equal", "Ours (Equal)", "tab:green",
               "0.5 classification + 0.5 regression, fixed"),
        Method("ours_cls", "Ours (Cls only)", "tab:purple",
               "classification with a learned weight"),
        Method("ours_reg", "Ours (Reg only)", "tab:orange", "regression with a learned weight"),
    )
}  # fmt: skip

#: Every method; `ppo` trains on the environment reward (the upper reference).
ALL_METHODS: tuple[str, ...] = tuple(METHODS)
#: Methods whose policy trains on a reward model fit to ratings.
REWARD_METHODS: tuple[str, ...] = tuple(k for k, m in METHODS.items() if m.learns_reward)
