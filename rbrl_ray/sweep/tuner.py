"""The Tune run of a list of trial specs: one place for what every grid of ours shares.

The sweep and the campaign both run RatingPPO trials through Tune with the same
placement, checkpoints, W&B runs and console table; only the trial list and the
experiment's name and folder differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.feedback.mirror import is_remote, join_uri
from rbrl_ray.validation import ConfigError


def new_tuner(
    specs: list[ExperimentSpec],
    *,
    name: str,
    storage: str,
    checkpoint_every: int,
    max_failures: int,
    max_concurrent: int | None = None,
    callbacks: list[Any] | None = None,
    varied: Sequence[str] = (),
) -> Any:
    """A Tuner with one trial per spec. Each trial stops at its own spec's `timesteps`
    (RatingPPO reports `done` there), so one run can hold trials of several budgets.
    `varied`: the dotted spec settings the grid varies, shown in names and the table."""
    from ray import tune

    from rbrl_ray.rllib.keys import DESK_DIR_KEY, SPEC_KEY, VARIED_KEY
    from rbrl_ray.rllib.ppo import RatingPPO, RatingPPOConfig
    from rbrl_ray.sweep.tune_logging import progress_reporter, trial_name

    grid = [spec.model_dump(mode="json") for spec in specs]
    extras: dict[str, Any] = {SPEC_KEY: tune.grid_search(grid)}
    if varied:
        extras[VARIED_KEY] = list(varied)
    if any(spec.rater == "human" for spec in specs):
        extras[DESK_DIR_KEY] = desk_dir(storage, name)  # one desk root for every trial
    param_space = RatingPPOConfig.from_spec(specs[0]).learners(learner_config_dict=extras)
    return tune.Tuner(
        RatingPPO,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            max_concurrent_trials=max_concurrent,
            trial_name_creator=trial_name,
            trial_dirname_creator=trial_name,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_frequency=checkpoint_every,
                checkpoint_at_end=True,
                num_to_keep=2,
            ),
            failure_config=tune.FailureConfig(max_failures=max_failures),
            # with remote storage the trial's rated-segment store (ratings/) lives in the
            # working directory and reaches storage this way (local storage: written there
            # directly, rllib/tune_restore.py)
            sync_config=tune.SyncConfig(sync_artifacts=True),
            callbacks=callbacks or [],
            progress_reporter=progress_reporter(varied),
            verbose=1,
        ),
    )


def desk_dir(storage: str, name: str) -> str:
    """Where the rating desk of run `name` keeps a person's answers: beside the run,
    in a local folder or in remote storage (human/desk_files.py)."""
    if is_remote(storage):
        return join_uri(storage, name, "rating_desk")
    return str(Path(storage.removeprefix("file://")) / name / "rating_desk")


def check_restorable(path: Path) -> None:
    """ConfigError (one line) if a trial stored in the Tune run at `path` cannot be
    restored by this version: Tune would log the error and restart the whole run
    from scratch instead (its "Restarting experiment")."""
    from ray import cloudpickle

    from rbrl_ray.rllib.ppo import RatingPPO

    for params in sorted(path.glob("*/params.pkl")):
        try:
            RatingPPO.default_resource_request(cloudpickle.loads(params.read_bytes()))
        except Exception as err:  # what Tune's restore would meet, whatever it is
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ConfigError(
                f"{path}: trial {params.parent.name} cannot be restored by this version "
                f"({reason}); its checkpoints and ratings are kept: resume with the "
                "version that started the run, or start a new run"
            ) from None


def restored_tuner(path: str) -> Any:
    """The interrupted Tune run at `path`, set to continue its unfinished and errored trials
    (with the callbacks it was started with: Tune keeps them in the run's state)."""
    from ray import tune

    from rbrl_ray.rllib.ppo import RatingPPO
    from rbrl_ray.sweep.tune_logging import SpecWandbCallback, upload_timeout

    check_restorable(Path(path))
    tuner = tune.Tuner.restore(
        path, trainable=RatingPPO, resume_unfinished=True, resume_errored=True
    )
    # A run started by an older version keeps that version's W&B callback, whose
    # end-of-run wait (Ray's 30 min) hung resumed campaigns; give it today's.
    for callback in tuner._local_tuner.get_run_config().callbacks or []:
        if isinstance(callback, SpecWandbCallback):
            limit = upload_timeout(callback.kwargs.get("mode"))
            callback._upload_timeout = min(callback._upload_timeout, limit)
    return tuner
