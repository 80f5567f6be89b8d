"""The six methods of the paper's grid, by id."""

from __future__ import annotations

from typing import Literal

MethodId = Literal["ppo", "rbrl", "ours", "ours_equal", "ours_cls", "ours_reg"]

#: Methods whose policy trains on a reward model fit to ratings.
REWARD_METHODS: tuple[str, ...] = ("rbrl", "ours", "ours_equal", "ours_cls", "ours_reg")
#: Every method; `ppo` trains on the environment reward (the upper reference).
ALL_METHODS: tuple[str, ...] = ("ppo", *REWARD_METHODS)

DESCRIPTIONS: dict[str, str] = {
    "ppo": "PPO on the environment reward (upper reference)",
    "rbrl": "classification loss only (White et al. 2024)",
    "ours": "classification + regression, both weights learned (eq. 5)",
    "ours_equal": "0.5 classification + 0.5 regression, fixed",
    "ours_cls": "classification with a learned weight",
    "ours_reg": "regression with a learned weight",
}
