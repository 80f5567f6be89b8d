"""Where the reward model's fits run (reward_model.device), checked before Ray starts.

On CPU (the default) a fit is what every record so far ran. On a GPU the rating
service needs one of its own in the trial's placement group (`service_gpus`; a
fraction lets several services share a GPU), and Ray hides GPUs from an actor that
asked for none, so `cuda` without `service_gpus` is refused by the spec. A local
run that asks for a GPU torch cannot see stops in one line before Ray starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import torch

from rbrl_ray.validation import ConfigError


def fit_device(choice: str) -> torch.device:
    """The torch device of reward_model.device: cpu, cuda, or auto (cuda if visible).
    ConfigError (one line) for cuda where torch sees none."""
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(
            "reward_model.device 'cuda': torch sees no CUDA device here; allowed here: cpu, auto"
        )
    return torch.device("cuda")


def on_cpu(tree: Any) -> Any:
    """`tree` with every tensor in it moved to the CPU."""
    if isinstance(tree, torch.Tensor):
        return tree.cpu()
    if isinstance(tree, dict):
        return type(tree)((k, on_cpu(v)) for k, v in tree.items())
    if isinstance(tree, list | tuple):
        return type(tree)(on_cpu(v) for v in tree)
    return tree


def check_before_ray(specs: Iterable[Any]) -> None:
    """A local run (no RAY_ADDRESS) whose rating services want a GPU needs CUDA here;
    on a cluster the GPU nodes are Ray's to find."""
    wants = [s for s in specs if s.learns_reward and (s.reward_model.device == "cuda"
                                                       or s.service_gpus > 0)]  # fmt: skip
    if wants and not os.environ.get("RAY_ADDRESS") and not torch.cuda.is_available():
        raise ConfigError(
            f"{wants[0].env}/{wants[0].method}: the rating service asks for a GPU "
            "(reward_model.device cuda or service_gpus > 0) but torch sees no CUDA device "
            "here; allowed here: reward_model.device cpu or auto, service_gpus 0"
        )
