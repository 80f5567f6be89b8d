"""Sweep YAML: schema, loading with one-line errors, and expansion into trial specs.

A sweep file names the grid (envs × classes × methods × seeds) and the shared
settings; any shared setting given as a list of values is a grid over it too
(`varied.py`). Per-env settings (rating range, PPO overrides) live in one
separate file, `envs.yaml` beside it by default.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator

from rbrl_ray.envs import DEFAULT_ENV_SETTINGS, SHIPPED_ENV_SETTINGS, TASK_NAMES
from rbrl_ray.experiment import (
    PPO_PRESETS,
    EvaluationSettings,
    ExperimentSpec,
    PPOSettings,
    RatingPageSettings,
    RatingSchedule,
)
from rbrl_ray.feedback.rater import RaterNoise
from rbrl_ray.methods import ALL_METHODS, REWARD_METHODS
from rbrl_ray.reward.config import RewardModelConfig
from rbrl_ray.sweep.varied import combinations, find_varied, with_values
from rbrl_ray.validation import ClassCount, ConfigError, StrictModel, error_line, known


class EnvSettings(StrictModel):
    """Per-env settings: the synthetic rater's range and PPO overrides."""

    rating_range: tuple[float, float] | None = None
    ppo: dict[str, Any] = Field(default_factory=dict)


class SweepConfig(StrictModel):
    """One grid of trials and everything they share."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    envs: list[str] = Field(min_length=1)
    methods: list[str] = Field(min_length=1)
    classes: list[ClassCount] = Field(min_length=1)
    seeds: int | list[int] = Field(description="a count (0..n-1) or a list of seeds")
    timesteps: int = Field(gt=0)
    preset: str = "paper"
    ppo: dict[str, Any] = Field(default_factory=dict, description="overrides of the preset")
    schedule: RatingSchedule = RatingSchedule()
    noise: RaterNoise = RaterNoise()
    reward_model: RewardModelConfig = RewardModelConfig()
    evaluation: EvaluationSettings = EvaluationSettings()
    rater: Literal["synthetic", "human"] = Field(
        "synthetic", description="human: a person rates on the cluster's rating page"
    )
    physics_states: bool = Field(False, description="keep segments renderable (human: always)")
    rating_page: RatingPageSettings = RatingPageSettings()
    service_cpus: float = Field(1.0, ge=0, description="CPUs reserved for each rating service")
    service_gpus: float = Field(
        0.0, ge=0, description="GPUs for each rating service's fits (with reward_model.device)"
    )
    checkpoint_every: int = Field(10, ge=1, description="iterations between checkpoints")
    max_failures: int = Field(2, ge=0, description="retries of a failed trial")
    wandb_project: str = "rbrl_ray"
    env_settings: str | None = Field(
        DEFAULT_ENV_SETTINGS,
        description="path relative to this file (envs.yaml: the shipped one, if none is there)",
    )

    #: dotted path -> values of every setting the YAML gives as a list (`varied.py`)
    _varied: dict[str, list[Any]] = PrivateAttr(default_factory=dict)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str = "") -> SweepConfig:
        """A sweep from its YAML mapping, its varied settings at their first values
        (every value is checked by `variants`). ConfigError (one line) if invalid."""
        varied = find_varied(raw, cls)
        try:
            sweep = cls.model_validate(with_values(raw, {k: v[0] for k, v in varied.items()}))
        except ValidationError as err:
            raise ConfigError(f"{where}: {error_line(err, cls)}") from None
        sweep._varied, sweep._raw = varied, raw
        return sweep

    @property
    def varied(self) -> dict[str, list[Any]]:
        return dict(self._varied)

    def variants(self, where: str = "") -> list[SweepConfig]:
        """One sweep per combination of the varied settings (just this one if none),
        each validated; ConfigError naming the bad value and its setting."""
        if not self._varied:
            return [self]
        out = []
        for values in combinations(self._varied):
            try:
                out.append(type(self).model_validate(with_values(self._raw, values)))
            except ValidationError as err:
                raise ConfigError(f"{where}: {_varied_error(err, values)}") from None
        return out

    @field_validator("envs")
    @classmethod
    def _known_envs(cls, values: list[str]) -> list[str]:
        return _all_known(values, TASK_NAMES, "env")

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, values: list[str]) -> list[str]:
        return _all_known(values, ALL_METHODS, "method")

    @field_validator("seeds")
    @classmethod
    def _positive_seeds(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"seeds must be a positive count or a list, got {value}")
        return value

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        return _all_known([value], tuple(PPO_PRESETS), "preset")[0]

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


def _varied_error(err: ValidationError, values: dict[str, Any]) -> str:
    """error_line, with the varied value it is about (the message alone names none)."""
    line = error_line(err, SweepConfig)
    path = ".".join(str(p) for p in err.errors()[0]["loc"] if not isinstance(p, int))
    if path in values:
        return f"{line}, got {values[path]!r} (one of the values the sweep varies it over)"
    return line


def _all_known(values: list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    return [known(v, allowed, what) for v in values]


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: malformed YAML{yaml_where(err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def yaml_where(err: yaml.YAMLError) -> str:
    """Where and what a YAML error is. The parser notices a problem where it reads the
    next token (often the line after the mistake); the construct it was reading,
    when it says which, starts where the mistake is."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f" at line {mark.line + 1}" if mark else ""
    context, opened = getattr(err, "context", None), getattr(err, "context_mark", None)
    if context and opened is not None and mark is not None and opened.line != mark.line:
        opening = context.removeprefix("while parsing ")
        return (f" at line {opened.line + 1} ({opening} that starts there): {problem} "
                f"at line {mark.line + 1}")  # fmt: skip
    return f"{where}: {problem}"


def load_sweep(path: Path) -> tuple[SweepConfig, dict[str, EnvSettings]]:
    """The sweep in `path` and its per-env settings; ConfigError on any problem."""
    sweep = SweepConfig.parse(read_yaml(path), str(path))
    return sweep, load_env_settings(path, sweep.env_settings)


def load_env_settings(path: Path, env_settings: str | None) -> dict[str, EnvSettings]:
    """The per-env settings file named `env_settings`, relative to the file at `path`;
    the default name, where no such file is beside it (a config copied elsewhere),
    is the one shipped with the package (the calibrated rating ranges)."""
    settings: dict[str, EnvSettings] = {}
    if not env_settings:
        return settings
    env_path = path.parent / env_settings
    if env_settings == DEFAULT_ENV_SETTINGS and not env_path.exists():
        env_path = SHIPPED_ENV_SETTINGS
    for env, raw in read_yaml(env_path).items():
        if env not in TASK_NAMES:
            raise ConfigError(f"{env_path}: unknown env {env!r}; allowed: {', '.join(TASK_NAMES)}")
        try:
            settings[env] = EnvSettings.model_validate(raw or {})
        except ValidationError as err:
            raise ConfigError(f"{env_path}: {error_line(err, EnvSettings, prefix=env)}") from None
    return settings


def _ppo_for(
    sweep: SweepConfig, env: str, settings: dict[str, EnvSettings], where: str
) -> PPOSettings:
    overrides = {**sweep.ppo, **(settings[env].ppo if env in settings else {})}
    try:
        return PPOSettings.model_validate({**PPO_PRESETS[sweep.preset].model_dump(), **overrides})
    except ValidationError as err:
        raise ConfigError(f"{where}: {error_line(err, PPOSettings, prefix='ppo')}") from None


def _trial_grid(sweep: SweepConfig) -> Iterator[tuple[str, int, str, int | None]]:
    """(env, seed, method, classes): `ppo` once per env and seed, the rest per class count."""
    for env in sweep.envs:
        for seed in sweep.seed_list:
            for method in sweep.methods:
                counts = [None] if method == "ppo" else sweep.classes
                for classes in counts:
                    yield env, seed, method, classes


def expand(
    sweep: SweepConfig, settings: dict[str, EnvSettings], where: str = ""
) -> list[ExperimentSpec]:
    """Every trial of the sweep as a validated spec: per combination of the varied
    settings (the slowest axis), the envs × seeds × methods × classes grid."""
    specs, ppo_seen = [], set()
    for variant in sweep.variants(where):
        for spec in _expand(variant, settings, where):
            if spec.method == "ppo":  # trains on the env reward: rating settings change nothing
                key = spec.model_dump_json(exclude=RATING_ONLY)
                if key in ppo_seen:
                    continue
                ppo_seen.add(key)
            specs.append(spec)
    return specs


#: Spec fields `ppo` (true-reward PPO) never reads: a sweep varying them runs it once.
RATING_ONLY = {
    "schedule", "noise", "rating_range", "reward_model", "knn_k", "rater", "rating_page",
    "physics_states", "service_cpus", "service_gpus",
}  # fmt: skip


def _expand(
    sweep: SweepConfig, settings: dict[str, EnvSettings], where: str
) -> list[ExperimentSpec]:
    specs = []
    for env, seed, method, classes in _trial_grid(sweep):
        rating_range = settings[env].rating_range if env in settings else None
        rater = sweep.rater if method in REWARD_METHODS else "synthetic"
        fields: dict[str, Any] = dict(
            env=env,
            method=method,
            classes=classes,
            seed=seed,
            timesteps=sweep.timesteps,
            schedule=sweep.schedule,
            noise=sweep.noise,
            reward_model=sweep.reward_model,
            ppo=_ppo_for(sweep, env, settings, where),
            service_cpus=sweep.service_cpus,
            service_gpus=sweep.service_gpus,
            evaluation=sweep.evaluation,
            # ppo rates nothing: its trials of a human-rated sweep stay as they are
            rater=rater,
            physics_states=sweep.physics_states or rater == "human",
            rating_page=sweep.rating_page,
        )
        if rating_range is not None:
            fields["rating_range"] = rating_range
        try:
            specs.append(ExperimentSpec(**fields))
        except ValidationError as err:
            raise ConfigError(f"{where}: {error_line(err, ExperimentSpec)}") from None
    return specs


def dedup_note(sweep: SweepConfig, trials: int | None = None) -> str | None:
    """Why the trial count (`trials`, by default the expansion's) is below the full
    product of the axes and the varied settings' values, if it is."""
    trials = len(expand(sweep, {})) if trials is None else trials
    variants = len(sweep.variants())
    full = len(sweep.envs) * len(sweep.classes) * len(sweep.methods) * len(sweep.seed_list)
    full *= variants
    if "ppo" not in sweep.methods or trials >= full:
        return None
    return (
        f"ppo trains on the env reward and ignores the class count and the rating settings, "
        f"so it runs once per env and seed and PPO setting instead of once per class count "
        f"and rating setting; the report reuses it for each: {trials:,} trials instead of "
        f"{full:,}"
    )
