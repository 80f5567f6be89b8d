"""The three `ppo.*` switches between this project's lean pieces and RLlib's own.

`update_loop`, `env_runner_connectors` and `sampler` each pick a piece of
`rllib/lean/` (the same numbers as RLlib's, with less overhead; the equality
tests in tests/test_lean_update.py, test_connectors.py and test_sampler.py prove
it) or RLlib's stock one. This is the only module outside `rllib/lean/` that
imports it: with every switch at `rllib` the add-on runs on RLlib's stock
PPOTorchLearner, SingleAgentEnvRunner, connectors and gymnasium's vector env.

The lean pieces use RLlib's private members, so they are proven on one Ray
version only (LEAN_PROVEN_ON). On any other, `effective_settings` turns all
three off with one warning line, and the trial runs on RLlib's own pieces.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import ray

from rbrl_ray.envs import make_env
from rbrl_ray.experiment import PPOSettings
from rbrl_ray.rllib.lean.connectors import LeanMeanStdFilter, module_to_env_pieces
from rbrl_ray.rllib.lean.env_runner import LeanEnvRunner
from rbrl_ray.rllib.lean.learner import LeanPPOTorchLearner
from rbrl_ray.rllib.lean.vector_env import DmcVectorEnv
from rbrl_ray.rllib.observation_filter import PooledMeanStdFilter
from rbrl_ray.rllib.relabel import RatingRewardLearner

logger = logging.getLogger(__name__)

#: The Ray versions the lean pieces were proven bit-for-bit equal on.
LEAN_PROVEN_ON = ("2.60.0",)
SWITCHES = ("update_loop", "env_runner_connectors", "sampler")
_warned: set[str] = set()


def lean_proven(version: str | None = None) -> bool:
    return (version or ray.__version__) in LEAN_PROVEN_ON


def effective_settings(p: PPOSettings, version: str | None = None) -> PPOSettings:
    """`p`, with every lean switch set to `rllib` on a Ray version the lean pieces were
    not proven on (one warning line per process)."""
    version = version or ray.__version__
    asked = [name for name in SWITCHES if getattr(p, name) == "lean"]
    if not asked or lean_proven(version):
        return p
    if version not in _warned:
        _warned.add(version)
        logger.warning(
            "ppo.%s: lean pieces were proven on Ray %s, not %s; using RLlib's own",
            "/".join(asked),
            ", ".join(LEAN_PROVEN_ON),
            version,
        )
    return p.model_copy(update=dict.fromkeys(asked, "rllib"))


class LeanRatingRewardLearner(RatingRewardLearner, LeanPPOTorchLearner):
    """The add-on's learner (reward relabelling, the spec's Adam) on the lean update."""


#: The add-on's learner classes: `apply_spec` swaps one for the other, never a subclass
#: a user or test set on purpose.
ADDON_LEARNERS = (RatingRewardLearner, LeanRatingRewardLearner)


def learner_class(p: PPOSettings) -> type:
    return LeanRatingRewardLearner if p.update_loop == "lean" else RatingRewardLearner


@dataclasses.dataclass(frozen=True)
class ObservationFilter:
    """The env-to-module connector factory: running mean/std observation normalisation
    (RbRL's VecNormalize), synced across EnvRunners; the RLlib-style piece or the lean one,
    merged as `merge` says. A dataclass, so that configs holding it compare by value."""

    lean: bool
    merge: str = "pooled"
    freeze_after: int | None = None

    def __call__(
        self, env: object = None, spaces: object = None, device: object = None
    ) -> PooledMeanStdFilter:
        piece = LeanMeanStdFilter if self.lean else PooledMeanStdFilter
        return piece(merge=self.merge, freeze_after=self.freeze_after)


def env_runner_connectors(p: PPOSettings) -> dict[str, Any]:
    """The EnvRunner's connector settings: RLlib's pieces or the lean ones."""
    lean = p.env_runner_connectors == "lean"
    normalize = p.normalize_observations
    return {
        "env_to_module_connector": ObservationFilter(
            lean, p.filter_merge, p.freeze_observation_stats_at
        )
        if normalize
        else None,
        # the lean filter hands the module its batch itself
        "add_default_connectors_to_env_to_module_pipeline": not (normalize and lean),
        "module_to_env_connector": module_to_env_pieces if lean else None,
        "add_default_connectors_to_module_to_env_pipeline": not lean,
    }


def sampler_settings(p: PPOSettings) -> dict[str, Any]:
    """The EnvRunner class and vector env: lean ones or RLlib's and gymnasium's."""
    if p.sampler == "lean":
        # vector_entry_point: our env creator returns a DmcVectorEnv when asked for one
        return {"env_runner_cls": LeanEnvRunner, "gym_env_vectorize_mode": "vector_entry_point"}
    return {"env_runner_cls": None, "gym_env_vectorize_mode": "sync"}


def make_env_or_vector(config: Mapping[str, Any]) -> gym.Env | gym.vector.VectorEnv:
    """RLlib's env creator: one env (envs.make_env), or with "num_envs" in `config`
    (RLlib's vector entry point, asked for by the lean sampler) a DmcVectorEnv."""
    if "num_envs" in config:
        record = bool(config.get("record_states", False))
        return DmcVectorEnv(config["env"], int(config["num_envs"]), record_states=record)
    return make_env(config)
