"""What a sweep shows: the console progress table and the W&B runs."""

from __future__ import annotations

from typing import Any

from ray.air.integrations.wandb import WandbLoggerCallback
from ray.tune import CLIReporter

from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.rllib.relabel import SPEC_KEY

_SPEC = f"learner_config_dict/{SPEC_KEY}"

PROGRESS_METRICS = {
    "env_runners/num_env_steps_sampled_lifetime": "env steps",
    "env_runners/episode_return_mean": "true return",
    "rating/num_ratings": "ratings",
    "reward_model/accuracy": "rm acc",
    "reward_model/pearson_true": "r̂~r",
}
PROGRESS_PARAMETERS = {f"{_SPEC}/{k}": k for k in ("env", "method", "classes", "seed")}


def progress_reporter() -> CLIReporter:
    """Tune's console table: trial status, env/method/classes/seed and the key metrics."""
    return CLIReporter(
        metric_columns=PROGRESS_METRICS,
        parameter_columns=PROGRESS_PARAMETERS,
        max_report_frequency=30,
        print_intermediate_tables=True,
    )


def trial_spec(config: dict[str, Any]) -> ExperimentSpec:
    return ExperimentSpec.model_validate(config["learner_config_dict"][SPEC_KEY])


def wandb_group(spec: ExperimentSpec) -> str:
    """Runs compare side by side within an env and class count; ppo sits in every one."""
    classes = "all-classes" if spec.classes is None else f"{spec.classes}-classes"
    return f"{spec.env}/{classes}"


class SpecWandbCallback(WandbLoggerCallback):
    """One W&B run per trial: grouped by env and class count, tagged with the method,
    named env/method/classes/seed, with the full experiment spec as its config."""

    def log_trial_start(self, trial: Any) -> None:
        spec = trial_spec(trial.config)
        classes = "-" if spec.classes is None else spec.classes
        self._start_logging_actor(
            trial,
            list(self._exclude_results) + list(self.excludes) + ["config"],
            id=trial.trial_id,
            name=f"{spec.env}/{spec.method}/c{classes}/s{spec.seed}",
            group=wandb_group(spec),
            tags=[spec.method, spec.env, f"classes={classes}"],
            project=self.project,
            config=spec.model_dump(mode="json"),
            dir=trial.local_path,
            resume="allow",
            reinit=True,
            allow_val_change=True,
            **self.kwargs,
        )
