"""A cluster on this machine loses a worker node mid-trial: a scheduling head and two
worker nodes (`ray start`, as cluster/README.md rehearses it), storage on a local S3
server, the sweep submitted with `ray job submit`. Once its trial has queries in the
bucket, the worker node running it is killed (its raylet and every worker process
under it) and the trial's working folder deleted, as a lost disk; the trial restarts
on the other worker from its checkpoint in the bucket, takes over every rating the
bucket holds and finishes: 0 lost, 0 asked twice (tests/test_faults.py's counts).

Marked `cluster` (minutes of three Ray nodes): .ci/run runs it after the suite."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.fs
import pytest

from tests.s3_server import ACCESS, free_port, start_s3_server
from tests.sweep_helpers import checkpoint_service_state, write_sweep
from tests.test_faults import SCHEDULE, assert_ratings_intact, draw

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

    def _start(self, name: str, *args: str) -> None:
        manager = free_port()
        ports = [free_port() for _ in range(4)]
        command = [str(BIN / "ray"), "start", *args, "--node-manager-port", str(manager),
                   "--dashboard-agent-listen-port", str(ports[0]),
                   "--dashboard-agent-grpc-port", str(ports[1]),
                   "--metrics-export-port", str(ports[2]),
                   "--runtime-env-agent-port", str(ports[3]), "--disable-usage-stats"]  # fmt: skip
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        self.node_manager_ports[name] = manager

    def start(self) -> LocalCluster:
        dashboard = ["--dashboard-port", str(self.dashboard), "--dashboard-host", "127.0.0.1"]
        self._start("head", "--head", "--port", str(self.gcs), "--num-cpus", "0", *dashboard)
        for worker in ("worker1", "worker2"):
            self._start(worker, "--address", f"127.0.0.1:{self.gcs}", "--num-cpus", "2",
                        "--resources", json.dumps({worker: 1}))  # fmt: skip
        return self

    def raylet(self, name: str) -> psutil.Process:
        port = f"--node_manager_port={self.node_manager_ports[name]}"
        for process in psutil.process_iter(["cmdline"]):
            if port in " ".join(process.info["cmdline"] or []):
                return process
        raise AssertionError(f"no raylet of {name}")

    def node_id(self, name: str) -> str:
        cmdline = " ".join(self.raylet(name).cmdline())
        return cmdline.split("--node_id=")[1].split()[0]

    def kill_node(self, name: str) -> None:
        """SIGKILL the node's raylet and every process under it (its workers, agents)."""
        raylet = self.raylet(name)
        victims = [raylet, *raylet.children(recursive=True)]
        for process in victims:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(victims, timeout=30)

    def stop(self) -> None:
        """Every process of this cluster (its temp folder is in their command lines)."""
        mine = [p for p in psutil.process_iter(["cmdline"])
                if str(self.root) in " ".join(p.info["cmdline"] or [])]  # fmt: skip
        for process in mine:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(mine, timeout=30)


def trial_running_on(cluster: LocalCluster) -> str:
    """The worker node whose raylet hosts the live RatingPPO actor (Ray's state API)."""
    listed = subprocess.run(
        [str(BIN / "ray"), "list", "actors", "--address", f"127.0.0.1:{cluster.gcs}",
         "--filter", "state=ALIVE", "--format", "json", "--detail"],
        capture_output=True, text=True, env=cluster.env, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr[-2000:]
    nodes = {a["node_id"] for a in json.loads(listed.stdout) if a["class_name"] == "RatingPPO"}
    (node,) = nodes
    return next(name for name in ("worker1", "worker2") if cluster.node_id(name) == node)


def test_a_worker_node_dies_mid_trial_and_the_trial_finishes_elsewhere_with_every_rating(
    tmp_path,
):
    s3 = start_s3_server()
    cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="rbrl-cl-")))
    config = write_sweep(
        tmp_path, "nodeloss", methods=["ours"], timesteps=9000, checkpoint_every=3,
        max_failures=2, schedule=SCHEDULE, evaluation={"episodes": 0},
        ppo={"num_env_runners": 1, "env_runner_cpus": 1.0, "learner_cpus": 0.5},
        service_cpus=0.5,
    )  # fmt: skip
    log, local = tmp_path / "job.log", tmp_path / "downloaded"
    try:
        cluster.start()
        runtime_env = {"env_vars": {**ACCESS, "WANDB_MODE": "disabled"}}
        with open(log, "w") as handle:
            job = subprocess.Popen(
                [str(BIN / "ray"), "job", "submit", "--address",
                 f"http://127.0.0.1:{cluster.dashboard}", "--runtime-env-json",
                 json.dumps(runtime_env), "--", "python", "-m", "rbrl_ray.sweep",
                 "--config", str(config), "--storage", s3.uri("runs"), "--wandb", "disabled"],
                stdout=handle, stderr=subprocess.STDOUT, env=cluster.env,
            )  # fmt: skip
        kill_after = draw("cluster: kill the trial's node once queries are in the bucket", 2, 4)
        deadline = time.monotonic() + 900

        def queries() -> int:
            return sum(p.endswith(".npz") for p in s3.files("runs/nodeloss"))

        while queries() < kill_after:
            assert job.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        victim = trial_running_on(cluster)
        killed = cluster.node_id(victim)
        cluster.kill_node(victim)
        for working in cluster.root.glob("ray/session_*/artifacts/*/nodeloss/working_dirs/*"):
            shutil.rmtree(working, ignore_errors=True)  # the lost node's disk
        print(f"killed {victim} with {queries()} queries in the bucket", flush=True)
        assert job.wait(timeout=1200) == 0, log.read_text()[-4000:]
        pyarrow.fs.copy_files(f"{s3.bucket}/runs/nodeloss", str(local),
                              source_filesystem=s3.filesystem())  # fmt: skip
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)
        s3.stop()

    (trial,) = [p for p in local.iterdir() if (p / "params.json").exists()]
    last = json.loads((trial / "result.json").read_text().splitlines()[-1])
    assert last["nodes/trial"] != killed  # it finished on the other worker
    state = checkpoint_service_state(max(trial.glob("checkpoint_*")))
    counts = assert_ratings_intact(trial / "ratings", state, "worker node killed")
    assert counts["lineages"] == 2
