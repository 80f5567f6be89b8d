"""How the policy and value nets are parameterised and initialised.

The paper's PPO is stable-baselines3's `PPO("MlpPolicy")` (through the RbRL and
B-Pref scripts). Its policy differs from RLlib's default PPO module in two ways
that decide whether PPO without a KL penalty learns (see BENCHMARKS.md,
"Learning parity"):

* log-std: SB3 has one state-independent log-std parameter per action
  dimension, initialised at 0 (`log_std_init`). RLlib's default makes the
  policy net output it, per state. RLlib's `free_log_std=True` is SB3's form;
  its parameter also starts at 0.
* initialisation (SB3's `ortho_init`): orthogonal weights with gain √2 in the
  hidden layers, 0.01 on the policy output, 1 on the value output; zero biases.
  RLlib's default is torch's Linear initialisation. RLlib's model config can
  set the hidden layers' initialiser, but its PPO catalog gives the pi and vf
  heads none, hence the catalog below.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from ray.rllib.algorithms.ppo.ppo_catalog import PPOCatalog
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

from rbrl_ray.experiment import PPOSettings

HIDDEN_GAIN = math.sqrt(2.0)  # SB3 ActorCriticPolicy: gain √2 for the hidden layers
PI_OUTPUT_GAIN = 0.01  # ... 0.01 for the action (mean) output
VF_OUTPUT_GAIN = 1.0  # ... 1 for the value output


def last_linear(module: torch.nn.Module) -> torch.nn.Linear:
    """The output layer of a head: its last Linear."""
    layers = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    if not layers:
        raise ValueError(f"{type(module).__name__} has no Linear layer")
    return layers[-1]


def orthogonal_(layer: torch.nn.Linear, gain: float) -> None:
    torch.nn.init.orthogonal_(layer.weight, gain=gain)
    torch.nn.init.zeros_(layer.bias)


class OrthogonalInitPPOCatalog(PPOCatalog):
    """PPOCatalog whose pi and vf output layers start as SB3's do."""

    def build_pi_head(self, framework: str) -> Any:
        head = super().build_pi_head(framework)
        orthogonal_(last_linear(head), PI_OUTPUT_GAIN)
        return head

    def build_vf_head(self, framework: str) -> Any:
        head = super().build_vf_head(framework)
        orthogonal_(last_linear(head), VF_OUTPUT_GAIN)
        return head


def model_config(p: PPOSettings) -> DefaultModelConfig:
    """Separate pi and vf nets of `p.hidden` units, parameterised as `p` says."""
    init: dict[str, Any] = {}
    if p.init == "orthogonal":
        init = dict(
            fcnet_kernel_initializer="orthogonal_",
            fcnet_kernel_initializer_kwargs={"gain": HIDDEN_GAIN},
            fcnet_bias_initializer="zeros_",
        )
    return DefaultModelConfig(
        fcnet_hiddens=list(p.hidden),
        fcnet_activation=p.activation,
        vf_share_layers=False,
        free_log_std=p.free_log_std,
        **init,
    )


def catalog_class(p: PPOSettings) -> type[PPOCatalog]:
    return OrthogonalInitPPOCatalog if p.init == "orthogonal" else PPOCatalog
