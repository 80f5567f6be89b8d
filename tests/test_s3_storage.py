"""Ratings in S3 storage when they are made: against a real S3-compatible server on
the loopback address (moto's server mode, HTTP), not a file system mock."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.fs
import pytest

from rbrl_ray.feedback.mirror import StorageMirror
from rbrl_ray.feedback.segments import Segments
from rbrl_ray.feedback.store import RatedStore, lineages, new_lineage
from rbrl_ray.rllib.tune_restore import trial_ratings_dir, trial_ratings_mirror
from tests.s3_server import ACCESS, start_s3_server


@pytest.fixture(scope="module")
def s3():
    server = start_s3_server()
    yield server
    server.stop()


class Attempt:
    """What trial_ratings_dir/_mirror read of a trainable under Tune."""

    def __init__(self, logdir: Path, filesystem, trial_fs_path: str) -> None:
        self.logdir = str(logdir)
        self._storage = type(
            "Storage", (), {"storage_filesystem": filesystem, "trial_fs_path": trial_fs_path}
        )()


def a_query(seed: int, count: int = 200) -> tuple[Segments, np.ndarray]:
    """One query's rated segments, cartpole-sized, with physics states."""
    rng = np.random.default_rng(seed)
    segments = Segments(
        rng.normal(size=(count, 50, 5)).astype(np.float32),
        rng.normal(size=(count, 50, 1)).astype(np.float32),
        rng.random((count, 50)).astype(np.float32),
        rng.normal(size=(count, 50, 4)),
    )
    return segments, rng.integers(0, 3, count)


def test_each_query_is_in_the_bucket_when_the_store_returns(s3, tmp_path):
    trial = f"{s3.bucket}/exp/trial_0"
    first = Attempt(tmp_path / "node-a" / "trial_0", s3.filesystem(), trial)
    working = trial_ratings_dir(first)
    mirror = trial_ratings_mirror(first, working)
    store = new_lineage(working, "run1", mirror)
    seconds = []
    for query in range(3):
        segments, labels = a_query(query)
        started = time.perf_counter()
        written = store.append(segments, labels, queries=query)
        seconds.append(time.perf_counter() - started)
        in_bucket = s3.files("exp/trial_0/ratings")  # before the next query starts
        assert len(in_bucket) == query + 1
        with s3.filesystem().open_input_stream(in_bucket[-1]) as stored:
            assert stored.read() == written.read_bytes()
    size = written.stat().st_size / 1e6
    print(f"one query (200 ratings, {size:.2f} MB) written and uploaded: "
          + ", ".join(f"{s * 1000:.0f} ms" for s in seconds))  # fmt: skip

    # the node is lost with its working folder; the next attempt, on another node,
    # finds every query in the bucket
    second = Attempt(tmp_path / "node-b" / "trial_0", s3.filesystem(), trial)
    found = lineages(trial_ratings_dir(second))
    assert [p.name for p in found] == [store.root.name]
    copied, labels = RatedStore(found[-1]).load()
    want = [a_query(q) for q in range(3)]
    assert np.array_equal(labels, np.concatenate([w[1] for w in want]))
    assert np.array_equal(copied.states, np.concatenate([w[0].states for w in want]))


def test_no_mirror_where_storage_is_a_local_disk(tmp_path):
    local = Attempt(tmp_path / "work", pyarrow.fs.LocalFileSystem(), str(tmp_path / "storage"))
    assert trial_ratings_mirror(local, trial_ratings_dir(local)) is None
    mirror = StorageMirror(pyarrow.fs.LocalFileSystem(), "/st/t/ratings", tmp_path / "r")
    assert mirror.remote_path(tmp_path / "r" / "l1" / "ratings_000000.npz") == (
        "/st/t/ratings/l1/ratings_000000.npz"
    )


@pytest.mark.cluster  # a Ray of its own, killed and started again: the tier .ci/run runs apart
def test_a_sweep_on_s3_loses_its_node_and_resumes_elsewhere_with_every_rating(s3, tmp_path):
    """A one-trial `ours` sweep with --storage s3://: killed once a random number of
    queries are in the bucket, its node's Ray folders (the trial's working folder,
    where Tune keeps the ratings between syncs) deleted as a lost disk, resumed in a
    fresh Ray; it finishes with every rating the bucket held, none asked twice."""
    from tests.sweep_helpers import checkpoint_service_state, in_session, kill_tree, write_sweep
    from tests.test_faults import SCHEDULE, assert_ratings_intact, draw

    config = write_sweep(tmp_path, "s3run", methods=["ours"], timesteps=9000, checkpoint_every=3,
                         max_failures=1, schedule=SCHEDULE, evaluation={"episodes": 0})  # fmt: skip
    storage = s3.uri("runs")

    def sweep(node: str, *extra: str) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{node}.log"
        env = {**os.environ, **ACCESS, "RAY_TMPDIR": tempfile.mkdtemp(prefix=f"rbrl-{node}-")}
        command = [sys.executable, "-m", "rbrl_ray.sweep", "--config", str(config),
                   "--storage", storage, "--wandb", "disabled", *extra]  # fmt: skip
        with open(log, "w") as handle:
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                       start_new_session=True, env=env)  # fmt: skip
        return process, Path(env["RAY_TMPDIR"])

    def queries_in_bucket() -> int:
        return sum(p.endswith(".npz") for p in s3.files("runs/s3run"))

    kill_after = draw("s3: lose the node once queries are in the bucket", 2, 5)
    first, disk = sweep("node-a")
    deadline = time.monotonic() + 600
    while queries_in_bucket() < kill_after:
        assert first.poll() is None and time.monotonic() < deadline, tmp_path / "node-a.log"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    kill_tree(in_session(first.pid))
    first.wait()
    before = queries_in_bucket()
    shutil.rmtree(disk)  # the node's disk is gone: only the bucket remembers

    resumed, disk = sweep("node-b", "--resume")
    try:
        assert resumed.wait(timeout=1200) == 0, (tmp_path / "node-b.log").read_text()[-4000:]
    finally:
        kill_tree(in_session(resumed.pid))
        shutil.rmtree(disk, ignore_errors=True)
    local = tmp_path / "downloaded"
    pyarrow.fs.copy_files(f"{s3.bucket}/runs/s3run", str(local), source_filesystem=s3.filesystem())
    (trial,) = [p for p in local.iterdir() if (p / "params.json").exists()]
    state = checkpoint_service_state(max(trial.glob("checkpoint_*")))
    counts = assert_ratings_intact(trial / "ratings", state, "node lost, storage on S3")
    assert counts["lineages"] == 2 and before >= kill_after
