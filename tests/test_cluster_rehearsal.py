"""A cluster on this machine loses a worker node mid-trial: a scheduling head and two
worker nodes (`ray start`, as cluster/README.md rehearses it), storage on a local S3
server, the sweep submitted with `ray job submit`.

Synthetic rater: once its trial has queries in the bucket, the worker node running
it is killed (its raylet and every worker process under it) and the trial's working
folder deleted, as a lost disk; the trial restarts on the other worker from its
checkpoint in the bucket, reuses every rating the bucket holds and finishes:
0 lost, 0 asked twice (tests/test_faults.py's counts).

A person (scripted, on the rating page): the node hosting the rating desk is killed
while a segment is on the person's screen, and its disk lost; the desk comes back on
another node from the bucket, with every answer and that segment waiting again, and
the trial finishes with every answer the person gave, none asked twice.

Marked `cluster` (minutes of three Ray nodes): .ci/run runs it after the suite."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import psutil
import pyarrow.fs
import pytest

from rbrl_ray.feedback.segments import ratings_digest, segment_ids
from rbrl_ray.feedback.store import RatedStore, lineages
from rbrl_ray.human.labels import LabelLog
from tests.s3_server import ACCESS, S3Server, free_port, start_s3_server
from tests.sweep_helpers import checkpoint_service_state, write_sweep
from tests.test_faults import SCHEDULE, TOTAL, assert_ratings_intact, draw, rated

pytestmark = pytest.mark.cluster

BIN = Path(sys.executable).parent


class LocalCluster:
    """A head with no CPUs and two 2-CPU worker nodes, each with ports of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {**os.environ, **ACCESS, "RAY_AUTH_MODE": "token", "RAY_TMPDIR": str(root),
                    "PATH": f"{BIN}:{os.environ['PATH']}"}  # fmt: skip
        self.gcs, self.dashboard = free_port(), free_port()
        self.node_manager_ports: dict[str, int] = {}
        self.node_ids: dict[str, str] = {}  # the nodes' Ray ids, by name (a dead one's too)

    def _start(self, name: str, *args: str) -> None:
        manager = free_port()
        ports = [free_port() for _ in range(4)]
        command = [str(BIN / "ray"), "start", *args, "--node-manager-port", str(manager),
                   "--dashboard-agent-listen-port", str(ports[0]),
                   "--dashboard-agent-grpc-port", str(ports[1]),
                   "--metrics-export-port", str(ports[2]),
                   "--runtime-env-agent-port", str(ports[3]), "--disable-usage-stats"]  # fmt: skip
        tmp = self.tmpdir(name)  # the node's own temporary folder: its "disk"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "TMPDIR": str(tmp)}
        for attempt in (1, 2):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
            if done.returncode == 0:
                break
            # Ray gives a new node a fixed 30 s to register with the GCS; on a loaded
            # 2-core machine that can run out (CI, once). Say so, and start it once more.
            print(f"ray start of {name} failed ({attempt}):\n{self.logs_tail()}", flush=True)
            self._kill(matching(lambda process: process.environ().get("TMPDIR") == str(tmp)))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        self.node_manager_ports[name] = manager
        raylet = " ".join(self.raylet(name).cmdline())
        self.node_ids[name] = raylet.split("--node_id=")[1].split()[0]

    def start(self) -> LocalCluster:
        dashboard = ["--dashboard-port", str(self.dashboard), "--dashboard-host", "127.0.0.1"]
        self._start("head", "--head", "--port", str(self.gcs), "--num-cpus", "0", *dashboard)
        for worker in ("worker1", "worker2"):
            self._start(worker, "--address", f"127.0.0.1:{self.gcs}", "--num-cpus", "2",
                        "--resources", json.dumps({worker: 1}))  # fmt: skip
        return self

    def logs_tail(self) -> str:
        """The last lines of the newest session's GCS and raylet logs: why a start failed."""
        tails = []
        for log in sorted(self.root.glob("ray/session_*/logs/*")):
            if log.name in ("gcs_server.err", "gcs_server.out", "raylet.err", "raylet.out"):
                tails.append(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-15:]))
        return "\n".join(tails)

    def tmpdir(self, name: str) -> Path:
        return self.root / f"{name}_tmp"

    def raylet(self, name: str) -> psutil.Process:
        port = f"--node_manager_port={self.node_manager_ports[name]}"
        for process in psutil.process_iter(["cmdline"]):
            if port in " ".join(process.info["cmdline"] or []):
                return process
        raise AssertionError(f"no raylet of {name}")

    def kill_node(self, name: str, trials_there: bool) -> None:
        """SIGKILL the node's raylet and every process under it (its workers, agents),
        and lose its disk: its temporary folder and, if trials ran there, their working
        folders (in Ray's session folder, which the nodes of this machine share)."""
        raylet = self.raylet(name)
        victims = [raylet, *raylet.children(recursive=True)]
        for process in victims:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(victims, timeout=30)
        shutil.rmtree(self.tmpdir(name), ignore_errors=True)
        for working in self.root.glob("ray/session_*/artifacts/*/*/working_dirs/*"):
            if trials_there:
                shutil.rmtree(working, ignore_errors=True)

    def submit(self, config: Path, storage: str, log: Path) -> subprocess.Popen:
        """`ray job submit` of the sweep, as cluster/README.md shows it."""
        runtime_env = {"env_vars": {**ACCESS, "WANDB_MODE": "disabled"}}
        with open(log, "w") as handle:
            return subprocess.Popen(
                [str(BIN / "ray"), "job", "submit", "--address",
                 f"http://127.0.0.1:{self.dashboard}", "--runtime-env-json",
                 json.dumps(runtime_env), "--", "python", "-m", "rbrl_ray.sweep",
                 "--config", str(config), "--storage", storage, "--wandb", "disabled"],
                stdout=handle, stderr=subprocess.STDOUT, env=self.env,
            )  # fmt: skip

    def node_running(self, class_name: str) -> str:
        """The node whose raylet hosts the live actor of `class_name` (Ray's state API)."""
        listed = subprocess.run(
            [str(BIN / "ray"), "list", "actors", "--address", f"127.0.0.1:{self.gcs}",
             "--filter", "state=ALIVE", "--format", "json", "--detail"],
            capture_output=True, text=True, env=self.env, timeout=120,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr[-2000:]
        (node,) = {a["node_id"] for a in json.loads(listed.stdout) if a["class_name"] == class_name}
        return next(name for name, node_id in self.node_ids.items() if node_id == node)

    def stop(self) -> None:
        """Every process of this cluster: its temp folder is in their command lines, or
        in their environment (the head's Ray Client server and its multiprocessing
        helpers, whose command lines do not name it: left alive they kept retrying the
        dead GCS beside the next test's cluster)."""
        self._kill(self.processes())

    def processes(self) -> list[psutil.Process]:
        return matching(lambda process: str(self.root) in " ".join(process.cmdline())
                        or process.environ().get("RAY_TMPDIR") == str(self.root))  # fmt: skip

    @staticmethod
    def _kill(victims: list[psutil.Process]) -> None:
        """SIGKILL them (never `ray stop`: it stops every Ray on the machine)."""
        for process in victims:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
        psutil.wait_procs(victims, timeout=30)


def matching(matches: Callable[[psutil.Process], bool]) -> list[psutil.Process]:
    """Every process but this one that `matches` (those gone or not ours skipped)."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.pid != os.getpid() and matches(process):
                found.append(process)
    return found


@contextlib.contextmanager
def rehearsal() -> Iterator[tuple[LocalCluster, S3Server]]:
    """A started 3-node cluster and a local S3 server, both gone afterwards."""
    s3 = start_s3_server()
    cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="rbrl-cl-")))
    try:
        yield cluster.start(), s3
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)
        s3.stop()
    # reached when the test's body passed: nothing of its cluster outlives it
    assert not (left := cluster.processes()), [" ".join(p.cmdline()) for p in left]


def download(s3: S3Server, run: str, local: Path) -> tuple[Path, Path]:
    """The run's folder in the bucket, copied to `local`; and its one trial's folder."""
    pyarrow.fs.copy_files(f"{s3.bucket}/{run}", str(local), source_filesystem=s3.filesystem())
    (trial,) = [p for p in local.iterdir() if (p / "params.json").exists()]
    return local, trial


def test_a_worker_node_dies_mid_trial_and_the_trial_finishes_elsewhere_with_every_rating(
    tmp_path,
):
    config = write_sweep(
        tmp_path, "nodeloss", methods=["ours"], timesteps=9000, checkpoint_every=3,
        max_failures=2, schedule=SCHEDULE, evaluation={"episodes": 0},
        ppo={"num_env_runners": 1, "env_runner_cpus": 1.0, "learner_cpus": 0.5,
             "placement": "SPREAD"},
        service_cpus=0.5,
    )  # fmt: skip
    log = tmp_path / "job.log"
    with rehearsal() as (cluster, s3):
        job = cluster.submit(config, s3.uri("runs"), log)
        kill_after = draw("cluster: kill the trial's node once queries are in the bucket", 2, 4)
        deadline = time.monotonic() + 900

        def queries() -> int:
            return sum(p.endswith(".npz") for p in s3.files("runs/nodeloss"))

        while queries() < kill_after:
            assert job.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        victim = cluster.node_running("RatingPPO")
        killed = cluster.node_ids[victim]
        cluster.kill_node(victim, trials_there=True)
        print(f"killed {victim} with {queries()} queries in the bucket", flush=True)
        assert job.wait(timeout=1200) == 0, log.read_text()[-4000:]
        _, trial = download(s3, "runs/nodeloss", tmp_path / "downloaded")
    first, *_, last = [json.loads(row) for row in (trial / "result.json").read_text().splitlines()]
    # spread: the trial's process and its EnvRunner on the two workers, the service on one
    pieces = [first[f"nodes/{piece}"] for piece in ("trial", "env_runners", "rating_service")]
    assert first["nodes/trial"] != first["nodes/env_runners"] and len(set(pieces)) == 2
    assert last["nodes/trial"] != killed  # it finished on the other worker
    state = checkpoint_service_state(max(trial.glob("checkpoint_*")))
    counts = assert_ratings_intact(trial / "ratings", state, "worker node killed")
    assert counts["lineages"] == 2


class BucketPerson:
    """Rates whatever the rating page shows (class: segment id mod 3), finding the page
    as a person follows the desk's link: through page.json in the bucket."""

    def __init__(self, s3, desk: str) -> None:
        self.s3, self.page_file = s3, f"{s3.bucket}/{desk}/page.json"
        self.answered: list[str] = []

    def _page(self) -> tuple[str, str] | None:
        try:
            with self.s3.filesystem().open_input_stream(self.page_file) as handle:
                page = json.loads(handle.read())
        except (FileNotFoundError, OSError):
            return None  # no desk yet
        return page["url"], page["token"]

    def next_segment(self) -> str | None:
        """The segment the page shows now; None while nothing waits or no page answers."""
        if (page := self._page()) is None:
            return None
        try:
            with httpx.Client(base_url=page[0], timeout=30) as client:
                shown = client.get("/api/next", headers={"X-Rating-Token": page[1]})
        except httpx.TransportError:
            return None  # the desk is gone, or not yet back
        segment = shown.json()["segment_id"] if shown.status_code == 200 else None
        assert segment not in self.answered, "the page showed an answered segment again"
        return segment

    def answer(self, segment: str) -> None:
        url, token = self._page()
        body = {"segment_id": segment, "rating": int(segment, 16) % 3, "response_s": 1.0}
        with httpx.Client(base_url=url, timeout=30) as client:
            given = client.post("/api/ratings", json=body, headers={"X-Rating-Token": token})
        assert given.status_code == 200, given.text
        self.answered.append(segment)

    def rate_until(self, done, deadline: float, job: subprocess.Popen, log: Path) -> None:
        while not done():
            assert job.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            if (segment := self.next_segment()) is None:
                time.sleep(0.3)
            else:
                self.answer(segment)


def test_the_rating_desks_node_dies_and_the_desk_comes_back_with_every_answer(tmp_path):
    config = write_sweep(
        tmp_path, "deskloss", methods=["ours"], rater="human", rating_page={"port": 0},
        timesteps=9000, checkpoint_every=3, max_failures=2, schedule=SCHEDULE,
        evaluation={"episodes": 0}, service_cpus=0.5,
        ppo={"num_env_runners": 1, "env_runner_cpus": 1.0, "learner_cpus": 0.5},
    )  # fmt: skip
    log = tmp_path / "job.log"
    with rehearsal() as (cluster, s3):
        person = BucketPerson(s3, "runs/deskloss/rating_desk")
        job = cluster.submit(config, s3.uri("runs"), log)
        deadline = time.monotonic() + 900
        kill_after = draw("cluster: kill the desk's node after this many answers", 15, 35)
        person.rate_until(lambda: len(person.answered) >= kill_after, deadline, job, log)
        while (on_screen := person.next_segment()) is None:  # a segment the person sees
            assert job.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        desk_node = cluster.node_running("DeskService")
        trial_node = cluster.node_running("RatingPPO")
        print("service on", cluster.node_running("RatingService"), "desk on", desk_node, flush=True)
        cluster.kill_node(desk_node, trials_there=desk_node == trial_node)
        print(
            f"killed {desk_node} (the desk's; the trial's: {trial_node}) with "
            f"{len(person.answered)} answers given, {on_screen} on screen",
            flush=True,
        )
        while (again := person.next_segment()) is None:
            assert job.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        assert again == on_screen  # the segment that was waiting waits again, first
        print(f"the desk is back on {cluster.node_running('DeskService')}", flush=True)
        person.rate_until(lambda: job.poll() is not None, deadline, job, log)
        assert job.wait(timeout=60) == 0, log.read_text()[-4000:]
        local, trial = download(s3, "runs/deskloss", tmp_path / "downloaded")
    state = checkpoint_service_state(max(trial.glob("checkpoint_*")))
    counts = assert_answers_intact(trial / "ratings", state, person.answered)
    (queue,) = (local / "rating_desk" / "queues").iterdir()
    assert queue.name == trial.name  # the trial's own queue (not Tune's "default" id)
    assert len(LabelLog(queue).read()) == len(person.answered) == counts["final"]


def assert_answers_intact(ratings_root: Path, state: dict, answered: list[str]) -> dict:
    """A person's counts: the final store holds every answer given, each once; every
    earlier lineage's ratings are in it; the last fit saw all of them. (Not the
    schedule's total: a query puts on the page only segments the desk has not seen,
    and at this budget the pool can hold fewer than a query asks for.)"""
    runs = lineages(ratings_root)
    segments, labels = RatedStore(runs[-1]).load()
    assert np.array_equal(state["ratings"]["labels"], labels)
    assert sorted(segment_ids(segments)) == sorted(answered)  # every answer, once
    final = rated(RatedStore(runs[-1]).files())
    for run in runs:
        assert not rated(RatedStore(run).files()) - final, f"{run}: a rating was lost"
    fit = state["pending_fit"] or state["last_fit"]
    assert fit["ratings_digest"] == ratings_digest(segments, labels)
    counts = {
        "lineages": len(runs),
        "stored_by_first_run": sum(len(f.labels) for f in RatedStore(runs[0]).files()),
        "reused": int(state.get("ratings_reused", 0)),
        "final": len(labels),
        "asked_of_schedule": TOTAL,
    }
    print(f"FAULT rating desk's node killed: {counts}", flush=True)
    return counts
