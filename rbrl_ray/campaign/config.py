"""Campaign YAML: shared sweep settings plus named tiers, each a grid of its own.

    name: campaign
    preset: paper            # any sweep setting, shared by every tier
    tiers:
      A: {envs: [cartpole-balance], methods: [ppo, rbrl, ours], classes: [3],
          seeds: 5, timesteps: 300000}

Each tier is validated as a sweep (rbrl_ray/sweep/grid.py) of the shared settings
and its own grid, so a campaign file accepts exactly what a sweep file does, a list
of values for any shared setting included (a grid over it: sweep/varied.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError

from rbrl_ray.envs import DEFAULT_ENV_SETTINGS
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.sweep.grid import SweepConfig, expand, load_env_settings, read_yaml
from rbrl_ray.validation import ClassCount, ConfigError, StrictModel, error_line

GRID_KEYS = ("envs", "methods", "classes", "seeds", "timesteps")


class Tier(StrictModel):
    """One tier's grid (every other setting is the campaign's)."""

    envs: list[str] = Field(min_length=1)
    methods: list[str] = Field(min_length=1)
    classes: list[ClassCount] = Field(default_factory=lambda: [3], min_length=1)
    seeds: int | list[int]
    timesteps: int = Field(gt=0)
    description: str = ""


@dataclass(frozen=True)
class CampaignTrial:
    """A trial of the campaign: its spec, its record key, the tiers that ask for it."""

    key: str
    spec: ExperimentSpec
    tiers: tuple[str, ...]


@dataclass(frozen=True)
class Campaign:
    name: str
    sweeps: dict[str, SweepConfig]  # tier -> its grid as a sweep
    trials: list[CampaignTrial]  # in tier order, each spec once

    @property
    def varied(self) -> list[str]:
        """The settings any tier varies (dotted paths, first seen first)."""
        return list(dict.fromkeys(k for sweep in self.sweeps.values() for k in sweep.varied))


# PPO settings added after records were keyed, and the value at which a setting
# changes nothing its trial computes (what the records ran with): left out of the
# digest there, so every record keeps its key. SPEED_ONLY: no value changes a sampled
# number (tests show identical samples), only the speed.
SPEED_ONLY = "speed only"
ADDED_LATER: dict[str, object] = {
    "sampler": SPEED_ONLY,
    "env_runner_cpus": 1.0,
    "learner_cpus": 1.0,
    "adam": "foreach",
    "filter_merge": "rllib",
    "freeze_observation_stats_at": None,
    "placement": SPEED_ONLY,
}
# The same for settings of the spec itself, and of its rating schedule.
ADDED_LATER_TO_SPEC: dict[str, object] = {
    "rater": "synthetic",
    "physics_states": False,
    "rating_page": {"host": "127.0.0.1", "port": 8765, "expose": False},
    "service_gpus": 0.0,
}
ADDED_LATER_TO_SCHEDULE: dict[str, object] = {"first_fit_blocks": False}
ADDED_LATER_TO_REWARD_MODEL: dict[str, object] = {"device": "cpu"}


def trial_key(spec: ExperimentSpec) -> str:
    """env_method[_cN]_sS_<digest>: readable, and a changed setting is a new trial."""
    dump = spec.model_dump(mode="json")
    for name, neutral in ADDED_LATER.items():
        if neutral == SPEED_ONLY or dump["ppo"][name] == neutral:
            dump["ppo"].pop(name)
    for name, neutral in ADDED_LATER_TO_SPEC.items():
        if dump[name] == neutral:
            dump.pop(name)
    for name, neutral in ADDED_LATER_TO_SCHEDULE.items():
        if dump["schedule"][name] == neutral:
            dump["schedule"].pop(name)
    for name, neutral in ADDED_LATER_TO_REWARD_MODEL.items():
        if dump["reward_model"][name] == neutral:
            dump["reward_model"].pop(name)
    text = json.dumps(dump, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    classes = "" if spec.classes is None else f"_c{spec.classes}"
    return f"{spec.env}_{spec.method}{classes}_s{spec.seed}_{digest}"


def load_campaign(path: Path) -> Campaign:
    """The campaign in `path`; ConfigError (one line) on any problem."""
    raw = read_yaml(path)
    tiers_raw = raw.pop("tiers", None)
    if not isinstance(tiers_raw, dict) or not tiers_raw:
        raise ConfigError(f"{path}: 'tiers' must be a mapping of tier name to grid")
    for key in GRID_KEYS:
        if key in raw:
            raise ConfigError(f"{path}: {key!r} belongs to a tier, not to the shared settings")
    name = raw.get("name", path.stem)
    env_settings = load_env_settings(path, raw.get("env_settings", DEFAULT_ENV_SETTINGS))
    sweeps: dict[str, SweepConfig] = {}
    by_key: dict[str, CampaignTrial] = {}
    for tier, grid in tiers_raw.items():
        where = f"{path}: tiers.{tier}"
        try:
            Tier.model_validate(grid)
        except ValidationError as err:
            raise ConfigError(f"{path}: {error_line(err, Tier, prefix=f'tiers.{tier}')}") from None
        sweep = SweepConfig.parse(
            {**raw, "name": name, **{k: v for k, v in grid.items() if k != "description"}},
            str(path),
        )
        sweeps[str(tier)] = sweep
        for spec in expand(sweep, env_settings, where):
            key = trial_key(spec)
            old = by_key.get(key)
            tiers = (*old.tiers, str(tier)) if old else (str(tier),)
            by_key[key] = CampaignTrial(key, spec, tiers)
    return Campaign(name, sweeps, list(by_key.values()))
