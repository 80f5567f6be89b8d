"""Reward model, rating losses, trainer and fidelity metrics.

The names below load on first use (PEP 562): importing a submodule such as
`rbrl_ray.reward.config` then costs no torch or scipy import, so every command
line that validates a spec answers bad input in a fraction of a second less.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "FitReport": "trainer",
    "Fidelity": "metrics",
    "RewardEnsemble": "model",
    "RewardModelConfig": "config",
    "RewardTrainer": "trainer",
    "evaluate_fidelity": "metrics",
    "predict_returns": "metrics",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
