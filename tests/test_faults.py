"""Fault injection: each process of a trial killed at a random iteration (real Ray,
RLlib and dm_control, tiny budgets). After every kill the trial completes and

- its final ratings number exactly the schedule's total,
- every rating ever stored (in any lineage) is in the final store exactly once,
- the final reward model was fit on exactly the final ratings (digest of ids+labels),
- nothing was asked twice: the answers to queries across all lineages are the final
  ratings, and no query index was answered by two runs.

The iteration of each kill is drawn from RBRL_FAULT_SEED (random when unset, and
printed, so that a failure can be replayed with the same seed).
"""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import psutil
import pytest
import ray

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.feedback.segments import ratings_digest, segment_ids
from rbrl_ray.feedback.store import RatedStore, lineages
from rbrl_ray.rllib.keys import SERVICE_ATTR
from rbrl_ray.rllib.tune_restore import trial_ratings_dir
from rbrl_ray.trial_summary import read_summary
from tests.sweep_helpers import (
    checkpoint_service_state,
    in_session,
    kill_tree,
    last_result,
    sweep_command,
    trial_dirs,
    write_sweep,
)
from tests.test_rllib_addon import build, tiny_spec

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("RBRL_FAULT_SEED") or random.SystemRandom().randrange(1_000_000))
RNG = random.Random(SEED)
TOTAL = 60  # ratings: 10 per query, queries at 0, 1000, ..., 5000 env steps
SCHEDULE = {"explore_steps": 0, "every": 1000, "per_query": 10, "total": TOTAL}


def draw(what: str, low: int, high: int) -> int:
    value = RNG.randint(low, high)
    print(f"RBRL_FAULT_SEED={SEED}: {what} = {value}", flush=True)
    return value


def rated(files) -> Counter:
    """(segment id, label) of every rating in `files`, as a multiset: a pool can hold
    the same segment twice, and each copy rated is a rating of its own."""
    return Counter(
        (sid, label)
        for file in files
        for sid, label in zip(segment_ids(file.segments), file.labels.tolist(), strict=True)
    )


def assert_ratings_intact(ratings_root: Path, state: dict, label: str) -> dict[str, int]:
    """The four promises of the module docstring, checked on disk and against the
    trial's final service state; prints and returns the counts."""
    runs = lineages(ratings_root)
    segments, labels = RatedStore(runs[-1]).load()
    assert np.array_equal(state["ratings"]["labels"], labels)  # the newest lineage is it
    assert len(labels) == TOTAL, f"{len(labels)} final ratings; the schedule asks {TOTAL}"
    final = rated(RatedStore(runs[-1]).files())
    for run in runs:
        lost = rated(RatedStore(run).files()) - final
        assert not lost, f"{run}: {sum(lost.values())} stored ratings not in the final store"
    fit = state["pending_fit"] or state["last_fit"]
    assert fit["ratings"] == TOTAL
    assert fit["ratings_digest"] == ratings_digest(segments, labels)
    answers = [file for run in runs for file in RatedStore(run).files() if not file.restored]
    assert rated(answers) == final, "a rating was asked for twice, or never"
    queries = [int(q) for file in answers for q in set(file.queries.tolist())]
    assert len(queries) == len(set(queries)), f"a query was answered twice: {sorted(queries)}"
    counts = {
        "lineages": len(runs),
        "stored_by_first_run": sum(len(f.labels) for f in RatedStore(runs[0]).files()),
        "reused": int(state.get("ratings_reused", 0)),
        "final": len(labels),
    }
    print(f"FAULT {label}: {counts}", flush=True)
    return counts


def processes(session: int, title: str) -> list[psutil.Process]:
    """The processes of one session whose title (Ray's `ray::Class.method`) starts so."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            if cmdline.startswith(title) and os.getsid(process.pid) == session:
                found.append(process)
        except (psutil.NoSuchProcess, ProcessLookupError):
            pass
    return found


def wait_for(condition, what: str, driver: subprocess.Popen, log: Path, timeout=600) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert driver.poll() is None, f"ended before {what}:\n{log.read_text()[-3000:]}"
        assert time.time() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.2)


def queries_stored(ratings_root: Path) -> int:
    """Queries the trial's first run has answered: one store file each, written the
    moment it is answered (result.json, buffered by Tune, lags by iterations). The
    first iteration answers queries 0 and 1, each later one a query more."""
    runs = lineages(ratings_root)
    return len(list(runs[0].glob("ratings_*.npz"))) if runs else 0


# -- the rating service -------------------------------------------------------------


def test_service_killed_in_train_is_replaced_and_nothing_is_asked_twice(tmp_path):
    out, log = tmp_path / "trial", tmp_path / "train.log"
    kill_after = draw("train: kill the service once queries are stored", 2, 5)
    command = [
        *(sys.executable, "-m", "rbrl_ray.train", "--env", "cartpole-balance"),
        *("--method", "ours", "--classes", "3", "--timesteps", "8000", "--out", str(out)),
        *("--preset", "small", "--env-runners", "0", "--explore-steps", "0"),
        *("--query-every", "1000", "--per-query", "10", "--total-ratings", str(TOTAL)),
        *("--checkpoint-every", "3", "--eval-episodes", "0"),
    ]
    with open(log, "w") as handle:
        driver = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(lambda: queries_stored(out / "ratings") >= kill_after, "queries", driver, log)
        (service,) = processes(driver.pid, "ray::RatingService")
        service.send_signal(signal.SIGKILL)
        assert driver.wait(timeout=600) == 0, log.read_text()[-4000:]
    finally:
        kill_tree(in_session(driver.pid))
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
    assert "service restarts 1" in text  # the progress line says so
    summary = read_summary(out)
    assert summary["rating_service"]["restarts"] == 1
    assert summary["timesteps_total"] >= 8000
    state = checkpoint_service_state(out / "checkpoint")
    counts = assert_ratings_intact(out / "ratings", state, "service killed (train)")
    assert counts["lineages"] == 2
    assert summary["rating_service"]["ratings_reused"] == counts["reused"]


LONG_FITS = {"hidden": 16, "layers": 1, "max_epochs": 200, "target_accuracy": 1.0}


def test_service_killed_during_a_background_fit(ray_local, tmp_path):
    spec = ExperimentSpec.model_validate(
        {
            **tiny_spec("ours", **SCHEDULE, background_fit=True).model_dump(),
            "timesteps": 8000,
            # noisy labels that 16 units cannot fit exactly: every fit runs 200 epochs
            "reward_model": LONG_FITS,
            "noise": {"mistake": 0.3},
        }
    )
    kill_after = draw("fit: kill the service after iteration", 2, 5)
    checkpoint_at = draw("fit: checkpoint after iteration (0: none)", 0, kill_after - 1)
    algo = build(spec, tmp_path)
    fit_seconds = []
    try:
        for iteration in range(1, 9):
            result = algo.train()
            if m.RM_FIT_SECONDS in result:
                fit_seconds.append(result[m.RM_FIT_SECONDS])
            if iteration == checkpoint_at:
                algo.save_to_path(str(tmp_path / "checkpoint"))
            if iteration == kill_after:
                service = algo.rating_service
                pid = ray.get(service.process_id.remote())
                assert ray.get(service.fit_in_progress.remote())  # this iteration's query's
                os.kill(pid, signal.SIGKILL)
        state = ray.get(algo.rating_service.get_state.remote())
    finally:
        algo.stop()
    print(f"fits took {min(fit_seconds):.1f}-{max(fit_seconds):.1f} s")
    assert result[m.SERVICE_RESTARTS] == 1
    counts = assert_ratings_intact(tmp_path / "ratings", state, "service killed mid-fit")
    assert counts["lineages"] == 2


# -- an EnvRunner ---------------------------------------------------------------------


def test_env_runner_killed_at_a_random_iteration(ray_local, tmp_path):
    spec = tiny_spec("ours", env_runners=1, **SCHEDULE).model_copy(update={"timesteps": 9000})
    kill_after = draw("env runner: kill after iteration", 1, 4)  # queries still to come
    algo = build(spec, tmp_path)
    try:
        for _ in range(kill_after):
            result = algo.train()
        (pid,) = algo.env_runner_group.foreach_env_runner(
            lambda runner: os.getpid(), local_env_runner=False
        )
        os.kill(pid, signal.SIGKILL)
        # recreating the EnvRunner costs iterations that sample nothing
        while not (
            result[m.NUM_RATINGS] == TOTAL
            and algo.env_runner_group.num_healthy_remote_workers() == 1
        ):
            assert result[m.ITERATION] < 25, "the trial never recovered"
            result = algo.train()
        (new_pid,) = algo.env_runner_group.foreach_env_runner(
            lambda runner: (os.getpid(), getattr(runner, SERVICE_ATTR, None) is not None),
            local_env_runner=False,
        )
        state = ray.get(algo.rating_service.get_state.remote())
    finally:
        algo.stop()
    assert new_pid[0] != pid and new_pid[1]  # a new process, handed the service
    assert result[m.SERVICE_RESTARTS] == 0
    counts = assert_ratings_intact(tmp_path / "ratings", state, "env runner killed")
    assert counts["lineages"] == 1


# -- the trial under Tune, and the sweep driver --------------------------------------


def start_sweep(tmp_path: Path, name: str, *extra: str) -> tuple[subprocess.Popen, Path]:
    """A one-trial `ours` sweep in a session of its own; returns it and its log."""
    config = write_sweep(
        tmp_path,
        name,
        methods=["ours"],
        timesteps=9000,
        checkpoint_every=3,
        max_failures=1,
        schedule=SCHEDULE,
        evaluation={"episodes": 0},
    )
    log = tmp_path / f"{name}{len(extra)}.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            sweep_command(config, tmp_path / "storage", *extra),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log


def trial_queries(experiment: Path) -> int:
    """Queries the sweep's one trial has stored so far (0 before it has a folder)."""
    trials = trial_dirs(experiment) if experiment.exists() else []
    return queries_stored(trials[0] / "ratings") if trials else 0


def sweep_until_queries(tmp_path: Path, name: str, what: str) -> tuple[subprocess.Popen, Path]:
    """Start the one-trial sweep `name` and return once its trial has stored a
    random number of queries (2-5, drawn as `what`): the moment to kill something."""
    kill_after = draw(what, 2, 5)
    driver, log = start_sweep(tmp_path, name)
    experiment = tmp_path / "storage" / name
    try:
        wait_for(lambda: trial_queries(experiment) >= kill_after, "queries", driver, log)
    except BaseException:
        kill_tree(in_session(driver.pid))
        raise
    return driver, log


def assert_sweep_trial_intact(experiment: Path, log: Path, label: str) -> None:
    """The sweep's one trial finished, its ratings intact, in two lineages."""
    assert "1 of 1 trials finished" in log.read_text()
    (trial,) = trial_dirs(experiment)
    assert last_result(trial)["env_runners"]["num_env_steps_sampled_lifetime"] >= 9000
    state = checkpoint_service_state(max(trial.glob("checkpoint_*")))
    assert assert_ratings_intact(trial / "ratings", state, label)["lineages"] == 2


def test_trial_process_killed_under_tune_is_restored_with_its_later_ratings(tmp_path):
    # 2-4 queries: before the first checkpoint (iteration 3), a fresh start; 5: restored
    what = "tune: kill the trial once queries are stored"
    driver, log = sweep_until_queries(tmp_path, "trialkill", what)
    experiment = tmp_path / "storage" / "trialkill"
    try:
        (trial_process,) = processes(driver.pid, "ray::RatingPPO")
        trial_process.send_signal(signal.SIGKILL)
        assert driver.wait(timeout=900) == 0, log.read_text()[-4000:]
    finally:
        kill_tree(in_session(driver.pid))
    assert_sweep_trial_intact(experiment, log, "trial process killed (Tune)")


# A killed sweep driver, resumed: tests/test_s3_storage.py kills the driver of a sweep
# on S3 storage and deletes its node's folders as well, then resumes (it replaced the
# local-storage version of this test, which it covers; the campaign's interrupted-
# resume test kills a driver with storage on a local disk).


class _Attempt:
    """What trial_ratings_dir reads of a trainable under Tune: its logdir and storage."""

    def __init__(self, logdir: Path, filesystem, trial_fs_path: str) -> None:
        self.logdir = str(logdir)
        self._storage = type(
            "Storage", (), {"storage_filesystem": filesystem, "trial_fs_path": trial_fs_path}
        )()


def test_every_attempt_of_a_trial_finds_the_ratings_its_earlier_attempts_stored(tmp_path):
    import pyarrow.fs

    # storage on a local file system: the trial's folder in storage itself
    local = _Attempt(tmp_path / "session-2" / "trial", pyarrow.fs.LocalFileSystem(), "/st/t")
    assert trial_ratings_dir(local) == Path("/st/t/ratings")
    # remote storage: the working folder, with the stored lineages copied down first
    remote = pyarrow.fs._MockFileSystem()
    remote.create_dir("exp/trial/ratings/lineage-1")
    with remote.open_output_stream("exp/trial/ratings/lineage-1/ratings_000000.npz") as out:
        out.write(b"stored by an earlier attempt")
    attempt = _Attempt(tmp_path / "session-3" / "trial", remote, "exp/trial")
    where = trial_ratings_dir(attempt)
    assert where == tmp_path / "session-3" / "trial" / "ratings"
    copied = where / "lineage-1" / "ratings_000000.npz"
    assert copied.read_bytes() == b"stored by an earlier attempt"
    # a first attempt: nothing stored yet, nothing copied
    fresh = _Attempt(tmp_path / "first" / "trial", remote, "exp/other")
    assert not trial_ratings_dir(fresh).exists()
