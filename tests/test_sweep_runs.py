"""The sweep for real: through `ray job submit` to a local head, and an interrupted
sweep resumed with every trial's ratings intact."""

import contextlib
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from rbrl_ray.feedback.store import RatedStore, lineages, load_latest
from tests.sweep_helpers import sweep_command, write_sweep

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_tree(is_root) -> None:
    """SIGKILL the processes `is_root` accepts and all their descendants, gathered
    before anything dies (Ray's agents rename themselves and outlive a dead raylet).
    Never `ray stop`: it would stop every Ray on the machine, a training run too."""
    victims: dict[int, psutil.Process] = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if process.pid != os.getpid() and is_root(process):
                for p in [process, *process.children(recursive=True)]:
                    victims[p.pid] = p
    for process in victims.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(list(victims.values()), timeout=30)


def in_session(session_id: int):
    return lambda process: os.getsid(process.pid) == session_id


def using_temp_dir(temp_dir: Path):
    return lambda process: str(temp_dir) in " ".join(process.info["cmdline"] or [])


def trial_dirs(experiment: Path) -> list[Path]:
    return sorted(p for p in experiment.iterdir() if p.is_dir() and (p / "params.json").exists())


def last_result(trial: Path) -> dict:
    lines = (trial / "result.json").read_text().strip().splitlines()
    return json.loads(lines[-1])


def checkpoint_ratings(checkpoint: Path) -> np.ndarray | None:
    with open(checkpoint / "algorithm_state.pkl", "rb") as handle:
        state = pickle.load(handle)
    service = state.get("rating_service")
    return None if service is None else service["ratings"]["labels"]


def test_smoke_sweep_through_ray_job_submit(tmp_path):
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_ADDRESS": ""}
    dashboard = free_port()
    # a head of its own, found again by this folder (short: Ray's socket paths are limited)
    temp_dir = Path(tempfile.mkdtemp(prefix="rbrl-ray-", dir="/tmp"))
    subprocess.run(
        [
            RAY,
            "start",
            "--head",
            f"--port={free_port()}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            "--num-cpus=2",
            "--disable-usage-stats",
            f"--temp-dir={temp_dir}",
            # free ports, not Ray's defaults: another Ray on this machine may hold those
            f"--dashboard-agent-listen-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    try:
        storage = tmp_path / "storage"
        runtime_env = {
            "working_dir": str(REPO),
            "excludes": [".venv", ".git", "results", "*.egg-info"],
        }
        submit = [
            RAY,
            "job",
            "submit",
            "--address",
            f"http://127.0.0.1:{dashboard}",
            "--runtime-env-json",
            json.dumps(runtime_env),
            "--",
            sys.executable,
            "-m",
            "rbrl_ray.sweep",
            "--config",
            "tune_configs/smoke.yaml",
            "--storage",
            str(storage),
            "--wandb",
            "offline",
        ]
        for _ in range(30):  # the head's job agent needs a few seconds after `ray start`
            job = subprocess.run(submit, env=env, capture_output=True, text=True, timeout=1200)
            if "No available agent to submit job" not in job.stderr:
                break
            time.sleep(2)
        assert job.returncode == 0, job.stdout[-4000:] + job.stderr[-2000:]
        assert "succeeded" in job.stdout.lower()
        # a quiet console: one W&B line per run, one sync hint (under the storage)
        assert job.stdout.count("wandb: offline run ") == 3, job.stdout[-4000:]
        assert "Run summary" not in job.stdout and "saved locally" not in job.stdout
        assert job.stdout.count("wandb sync ") == 1
        assert f"wandb sync {storage}" in job.stdout
        # it ends with the per-method table and the curves figure of its own report
        assert "final true return per method" in job.stdout
        for method in ("ppo", "rbrl", "ours"):
            assert f" {method} " in job.stdout.split("final true return per method")[1]
    finally:
        kill_tree(using_temp_dir(temp_dir))  # this head's processes only
        shutil.rmtree(temp_dir, ignore_errors=True)

    trials = trial_dirs(storage / "smoke")
    assert len(trials) == 3
    methods = set()
    for trial in trials:
        result = last_result(trial)
        spec = result["config"]["learner_config_dict"]["rbrl_spec"]
        methods.add(spec["method"])
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 6000
        assert 0 <= result["env_runners"]["episode_return_mean"] <= 1000
        assert list((trial / "wandb").glob("offline-run-*")), f"no W&B offline run in {trial}"
        if spec["method"] != "ppo":
            assert result["rating/num_ratings"] == 50
            assert len(load_latest(trial / "ratings")[1]) == 50  # synced beside checkpoints
    assert methods == {"ppo", "rbrl", "ours"}
    assert (storage / "smoke" / "report" / "curves_cartpole-balance.png").stat().st_size > 0


def test_killed_sweep_resumes_and_keeps_every_rating(tmp_path):
    config = write_sweep(
        tmp_path,
        "resume",
        methods=["rbrl", "ours"],
        timesteps=10_000,
        checkpoint_every=1,
        max_failures=1,
        schedule={"explore_steps": 0, "every": 1000, "per_query": 10, "total": 100},
    )
    storage = tmp_path / "storage"
    command = sweep_command(config, storage)
    log = open(tmp_path / "first.log", "w")
    driver = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    experiment = storage / "resume"
    deadline = time.time() + 900
    try:
        while time.time() < deadline:  # until both trials have two checkpoints
            trials = trial_dirs(experiment) if experiment.exists() else []
            if len(trials) == 2 and all(len(list(t.glob("checkpoint_*"))) >= 2 for t in trials):
                break
            assert driver.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(1)
        else:
            pytest.fail("the sweep made no checkpoints in time")
    finally:
        # the driver and the Ray it started in-process: everything in its session
        kill_tree(in_session(driver.pid))
        driver.wait()

    before = {}
    for trial in trial_dirs(experiment):
        before[trial.name] = [checkpoint_ratings(c) for c in sorted(trial.glob("checkpoint_*"))]
        assert last_result(trial)["env_runners"]["num_env_steps_sampled_lifetime"] < 10_000

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=1200)
    assert resumed.returncode == 0, resumed.stdout[-4000:]
    assert "2 of 2 trials finished" in resumed.stdout
    for trial in trial_dirs(experiment):
        assert last_result(trial)["env_runners"]["num_env_steps_sampled_lifetime"] >= 10_000
        final = checkpoint_ratings(max(trial.glob("checkpoint_*")))
        assert len(final) == 100  # exactly the schedule's total: nothing re-queried
        # Tune resumed from one of the checkpoints it had: all of its ratings kept, unchanged
        assert any(np.array_equal(final[: len(kept)], kept) for kept in before[trial.name])
        # and every rating of the newest pre-kill checkpoint is still on disk in storage,
        # even where the resume rewound past it
        newest = before[trial.name][-1]
        stored = [RatedStore(p).load()[1] for p in lineages(trial / "ratings")]
        assert any(np.array_equal(s[: len(newest)], newest) for s in stored)
        assert np.array_equal(stored[-1], final)  # the newest lineage is the trial's ratings
