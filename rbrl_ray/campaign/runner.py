"""Running a campaign in pieces: resume what was interrupted, start what is left,
and write each finished trial's record the moment Tune reports it complete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ray.tune import Callback

from rbrl_ray import metric_names as m
from rbrl_ray.campaign.config import Campaign, CampaignTrial, trial_key
from rbrl_ray.campaign.records import compact_record, pending, record_path
from rbrl_ray.campaign.starts import log_start, logged_starts
from rbrl_ray.jsonio import read_json, write_json
from rbrl_ray.sweep.tune_logging import trial_spec
from rbrl_ray.trial_results import all_result_rows, one_per_iteration

RUN_PREFIX = "run-"
#: In each run's folder: the keys of every trial the run was started with. Tune makes
#: a trial's folder only when the trial starts, so folders alone miss the trials a
#: run still holds, and a later run would compute them a second time.
MANIFEST = "campaign_trials.json"


def write_record(
    records: Path,
    trial_dir: Path,
    config: dict[str, Any],
    tiers: list[str],
    beside: int | None = None,
    stored_dir: Path | None = None,
) -> bool:
    """The record of the Tune trial in `trial_dir`, if it reached its spec's budget.
    `stored_dir`: the trial's folder in storage, where its start log is, where
    `trial_dir` is Tune's staging copy on the driver (default: the same folder)."""
    spec = trial_spec(config)
    written = all_result_rows(trial_dir)
    rows = one_per_iteration(written)
    steps = int(rows[-1].get(m.STEPS) or 0) if rows else 0
    if not steps or steps < spec.timesteps:
        return False
    key = trial_key(spec)
    starts = logged_starts(stored_dir or trial_dir)
    record = compact_record(key, spec, tiers, written, beside, starts)
    write_json(record_path(records, key), record, indent=1)
    print(f"campaign: recorded {key} ({steps:,} steps) in {record_path(records, key)}", flush=True)
    return True


class RecordWriter(Callback):
    """Tune callback: a trial's record as soon as it completes (kept in the run's state,
    so a restored run writes records too)."""

    def __init__(self, records: Path, tiers: dict[str, list[str]]) -> None:
        self.records, self.tiers = records, tiers
        self.beside: dict[str, int] = {}  # key -> most trials seen running beside it

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        # Tune calls this for every start of the trial's actor, before it restores the
        # checkpoint it names (none: the trial starts from scratch). The log goes to the
        # trial's folder in storage (a campaign's storage is local), not to the driver's
        # staging folder, which Tune makes anew in each session
        checkpoint = trial.latest_checkpoint_result
        # (a checkpoint whose metrics Tune did not keep: its iteration is not known)
        went_on_from = checkpoint.metrics.get(m.ITERATION) if checkpoint else 0
        log_start(Path(trial.path), went_on_from)

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        key = trial_key(trial_spec(trial.config))
        others = sum(t is not trial and t.status == "RUNNING" for t in trials)
        self.beside[key] = max(self.beside.get(key, 0), others)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        key = trial_key(trial_spec(trial.config))
        if record_path(self.records, key).exists():
            # Tune resumes a trial that completed after the run's state was last saved;
            # its record of the uninterrupted run stays, the rerun's last part is dropped.
            print(f"campaign: {key} already has a record; kept it", flush=True)
            return
        tiers = self.tiers.get(key, [])
        beside = getattr(self, "beside", {}).get(key)  # runs pickled before it: unknown
        staged, stored = Path(trial.local_path), Path(trial.path)
        write_record(self.records, staged, trial.config, tiers, beside, stored)


def runs(storage: Path) -> list[Path]:
    """The campaign's Tune runs, oldest first."""
    found = [p for p in storage.glob(f"{RUN_PREFIX}*") if p.is_dir()]
    return sorted(found, key=lambda p: int(p.name.removeprefix(RUN_PREFIX) or 0))


def started(results: Any) -> list[Any]:
    """A fit's results less those of trials it never started: a Ctrl+C can leave a
    trial unstarted, and its result carries no config."""
    return [r for r in results if r.config]


def record_finished(results: Any, records: Path, campaign: Campaign) -> None:
    """Records of finished trials of a run that have none yet (a kill between a trial's
    end and its record, say). A trial the campaign's YAML no longer asks for (its env's
    rating range changed, and its record was moved to pilots/, say) gets none."""
    tiers = {t.key: list(t.tiers) for t in campaign.trials}
    for result in started(results):
        key = trial_key(trial_spec(result.config))
        if key in tiers and not record_path(records, key).exists() and result.path:
            write_record(records, Path(result.path), result.config, tiers[key])


def stopped_early(run: Path, results: Any, selected: list[CampaignTrial], records: Path) -> bool:
    """Whether a run's fit returned with selected trials neither recorded nor failed:
    Tune stopped on a SIGINT (or SIGUSR1), saved its state and returned as if done. The
    records decide, not Tune's statuses: its clean-up marks a trial it stopped
    TERMINATED, and the trials its search had yet to create are not in `results`."""
    failed = {trial_key(trial_spec(r.config)) for r in started(results) if r.error is not None}
    left = {t.key for t in pending(selected, records)} & run_keys(run)
    return bool(left - failed)


def run_keys(run: Path) -> set[str]:
    """The record keys of the trials a Tune run holds: its manifest, when Tune can
    resume the run (a run killed before Tune saved its state holds nothing), and its
    started trials (each trial's params.json; all that runs from before manifests say)."""
    import json

    from ray.tune import Tuner

    manifest, keys = run / MANIFEST, set()
    if manifest.exists() and Tuner.can_restore(str(run)):
        advice = "restore it with git or from a backup; the run's trials are intact"
        keys.update(read_json(manifest, "campaign run manifest", advice))
    for params in run.glob("*/params.json"):
        try:
            keys.add(trial_key(trial_spec(json.loads(params.read_text()))))
        except (ValueError, OSError):
            continue
    return keys


def run_campaign(
    campaign: Campaign,
    selected: list[CampaignTrial],
    records: Path,
    storage: Path,
    callbacks: list[Any],
    max_concurrent: int | None,
) -> list[CampaignTrial]:
    """Resume interrupted runs that hold unrecorded trials, then run the rest in a new
    run; returns the selected trials still without a record. A run stopped on a SIGINT
    ends the campaign there: the next run would start trials the user meant to stop."""
    from ray.tune import Tuner

    from rbrl_ray.sweep.tuner import new_tuner, restored_tuner

    shared = next(iter(campaign.sweeps.values()))
    for run in runs(storage):
        todo = {t.key for t in pending(selected, records)}
        if todo & run_keys(run) and Tuner.can_restore(str(run)):
            print(f"campaign: resuming {run.name} ({len(todo & run_keys(run))} trials to finish)")
            results = restored_tuner(str(run)).fit()
            record_finished(results, records, campaign)
            if stopped_early(run, results, selected, records):  # start nothing more
                print(f"campaign: {run.name} was stopped; the command resumes it", flush=True)
                return pending(selected, records)
    left = pending(selected, records)
    in_runs = set().union(*(run_keys(run) for run in runs(storage))) if runs(storage) else set()
    fresh = [t for t in left if t.key not in in_runs]  # others: errored beyond retries
    # Seed by seed (stable otherwise): a campaign stopped part-way holds whole seeds of
    # every env and method, which pair, rather than whole cells of one env.
    fresh.sort(key=lambda t: t.spec.seed)
    if fresh:
        number = max((int(r.name.removeprefix(RUN_PREFIX)) for r in runs(storage)), default=0) + 1
        name = f"{RUN_PREFIX}{number}"
        print(f"campaign: starting {name} with {len(fresh)} trials")
        write_json(storage / name / MANIFEST, [t.key for t in fresh])
        tiers = {t.key: list(t.tiers) for t in campaign.trials}
        tuner = new_tuner(
            [t.spec for t in fresh],
            name=name,
            storage=str(storage),
            checkpoint_every=shared.checkpoint_every,
            max_failures=shared.max_failures,
            max_concurrent=max_concurrent,
            callbacks=[RecordWriter(records, tiers), *callbacks],
            varied=campaign.varied,
        )
        results = tuner.fit()
        record_finished(results, records, campaign)
        if stopped_early(storage / name, results, selected, records):
            print(f"campaign: {name} was stopped; the command resumes it", flush=True)
    return pending(selected, records)
