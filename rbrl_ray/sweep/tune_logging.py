"""What a sweep shows: the console progress table and the W&B runs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ray.air.integrations.wandb import WandbLoggerCallback, _WandbLoggingActor
from ray.tune import CLIReporter

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.rllib.keys import SPEC_KEY, VARIED_KEY, learner_extras, spec_of
from rbrl_ray.sweep.varied import label, short_names, value_of

_SPEC = f"learner_config_dict/{SPEC_KEY}"

PROGRESS_METRICS = {
    m.STEPS: "env steps",
    m.TRUE_RETURN: "true return",
    m.EVAL_RETURN: "eval return",
    m.NUM_RATINGS: "ratings",
    m.RM_ACCURACY: "rm acc",
    m.PEARSON_TRUE: "r̂~r",
    m.TRAIN_REWARD_MEAN: "reward mean",  # what PPO trained on; near +1 late: saturated
}
PROGRESS_PARAMETERS = {f"{_SPEC}/{k}": k for k in ("env", "method", "classes", "seed")}


def progress_reporter(varied: Sequence[str] = ()) -> CLIReporter:
    """Tune's console table: trial status, env/method/classes/seed, each setting the
    sweep varies, and the key metrics."""
    columns = {**PROGRESS_PARAMETERS}
    for path, name in short_names(list(varied)).items():
        columns[f"{_SPEC}/{path.replace('.', '/')}"] = name
    return CLIReporter(
        metric_columns=PROGRESS_METRICS,
        parameter_columns=columns,
        max_report_frequency=30,
        print_intermediate_tables=True,
    )


def trial_spec(config: dict[str, Any]) -> ExperimentSpec:
    spec = spec_of(config)
    if spec is None:
        raise ValueError("a sweep trial's config carries no experiment spec")
    return spec


def varied_values(config: dict[str, Any]) -> dict[str, str]:
    """Short name -> the trial's value, for each setting its sweep varies."""
    varied = learner_extras(config).get(VARIED_KEY) or []
    spec = trial_spec(config).model_dump(mode="json")
    return {name: label(value_of(spec, path)) for path, name in short_names(varied).items()}


def trial_name(trial: Any) -> str:
    """env_method[_cN]_sS[_name=value...]_<id>: short, readable, unique (ppo has no
    class count; the values are those of the settings the sweep varies)."""
    spec = trial_spec(trial.config)
    classes = "" if spec.classes is None else f"_c{spec.classes}"
    values = "".join(f"_{k}={v}" for k, v in varied_values(trial.config).items())
    return f"{spec.env}_{spec.method}{classes}_s{spec.seed}{values}_{trial.trial_id}"


def wandb_group(spec: ExperimentSpec) -> str:
    """Runs compare side by side within an env and class count. A run has one group:
    ppo, which has no class count, is in env/all-classes (and tagged with every class
    count it is compared against: `wandb_tags`)."""
    classes = "all-classes" if spec.classes is None else f"{spec.classes}-classes"
    return f"{spec.env}/{classes}"


def wandb_tags(
    spec: ExperimentSpec, compared_classes: Sequence[int] = (), varied: dict[str, str] | None = None
) -> list[str]:
    """The method, the env and the class count; for ppo, every class count of the run
    it is compared against, so a W&B filter on `classes=3` shows it beside rbrl and
    ours at 3 classes; `name=value` for each setting the sweep varies."""
    if spec.classes is not None:
        counts = [f"classes={spec.classes}"]
    else:
        counts = [f"classes={c}" for c in sorted(set(compared_classes))] or ["classes=-"]
    return [spec.method, spec.env, *counts, *(f"{k}={v}" for k, v in (varied or {}).items())]


class TornDownWandbLoggingActor(_WandbLoggingActor):
    """Ray's W&B logging actor, closing W&B's service itself once the run is finished.

    Left to W&B's exit hook, the teardown ran while Ray ended the actor and the
    service was already gone: a "Connection lost" traceback after the sweep's
    last line.
    """

    def run(self) -> None:
        super().run()
        self._wandb.teardown()


def upload_timeout(mode: str | None) -> int:
    """Seconds Ray waits at the end of a run for each trial's W&B actor (its default,
    30 min, hung interrupted campaigns with nothing to upload). Offline runs are
    written as they go; online ones get 10 min to upload."""
    return 30 if mode in ("offline", "disabled") else 600


class SpecWandbCallback(WandbLoggerCallback):
    """One W&B run per trial: grouped by env and class count, tagged with the method,
    named env/method/classes/seed, with the full experiment spec as its config.

    W&B itself runs silent (its run summary of 100+ metrics, its local-folder and
    `wandb sync` hints point into Ray's temporary session folder); this callback
    prints one line per run, and the sweep one sync hint under its own storage.
    """

    _logger_actor_cls = TornDownWandbLoggingActor

    def __init__(self, *args: Any, compared_classes: Sequence[int] = (), **kwargs: Any) -> None:
        kwargs.setdefault("upload_timeout", upload_timeout(kwargs.get("mode")))
        super().__init__(*args, **kwargs)
        self.compared_classes = tuple(compared_classes)  # the run's class counts

    def log_trial_start(self, trial: Any) -> None:
        import wandb

        spec = trial_spec(trial.config)
        classes = "-" if spec.classes is None else spec.classes
        varied = varied_values(trial.config)
        name = "/".join(
            [spec.env, spec.method, f"c{classes}", f"s{spec.seed}"]
            + [f"{k}={v}" for k, v in varied.items()]
        )
        mode = self.kwargs.get("mode") or os.environ.get("WANDB_MODE", "online")
        print(f"wandb: {mode} run {name} (project {self.project})", flush=True)
        self._start_logging_actor(
            trial,
            list(self._exclude_results) + list(self.excludes) + ["config"],
            id=trial.trial_id,
            name=name,
            group=wandb_group(spec),
            tags=wandb_tags(spec, self.compared_classes, varied),
            project=self.project,
            config=spec.model_dump(mode="json"),
            dir=trial.local_path,
            resume="allow",
            allow_val_change=True,
            **{"settings": wandb.Settings(silent=True), **self.kwargs},
        )
