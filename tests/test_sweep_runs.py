"""The sweep for real: through `ray job submit` to a local head (an interrupted sweep
resumed with every rating intact: tests/test_faults.py)."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from rbrl_ray.feedback.store import load_latest
from tests.rating_page_helpers import video_frames
from tests.sweep_helpers import (
    kill_tree,
    last_result,
    tensorboard_hparams,
    trial_dirs,
    using_temp_dir,
    wandb_offline_run,
)
from tests.user_env import users_environment

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def varied_smoke(folder: Path) -> Path:
    """tune_configs/smoke.yaml with eq. 3's alpha varied over two values: ppo (which
    ignores it) runs once, ours once per value; three trials, as the smoke has."""
    smoke = yaml.safe_load((REPO / "tune_configs" / "smoke.yaml").read_text())
    smoke["methods"] = ["ppo", "ours"]
    smoke["reward_model"]["alpha"] = [0.5, 1.0]
    path = folder / "smoke.yaml"
    path.write_text(yaml.safe_dump(smoke, sort_keys=False))
    return path


def test_smoke_sweep_through_ray_job_submit(tmp_path):
    """The smoke sweep as README users submit it, varying one setting: it shows as a
    column of Tune's table, in trial and W&B run names, as a W&B config key and tag,
    and as a TensorBoard HParams entry."""
    config = varied_smoke(tmp_path)
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
            str(config),
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
        for method in ("ppo", "ours"):
            assert f" {method} " in job.stdout.split("final true return per method")[1]
        assert (
            "varied settings (every combination, in each cell above): reward_model.alpha: 0.5, 1.0"
            in job.stdout
        )
        assert re.search(r"\|\s+alpha\s+\|", job.stdout), "no alpha column in Tune's table"
    finally:
        kill_tree(using_temp_dir(temp_dir))  # this head's processes only
        shutil.rmtree(temp_dir, ignore_errors=True)

    trials = trial_dirs(storage / "smoke")
    assert len(trials) == 3
    methods, alphas = set(), set()
    for trial in trials:
        result = last_result(trial)
        spec = result["config"]["learner_config_dict"]["rbrl_spec"]
        methods.add(spec["method"])
        alpha = spec["reward_model"]["alpha"]
        name, tags, wandb_config = wandb_offline_run(trial)
        assert wandb_config["reward_model"]["alpha"] == alpha
        assert (
            tensorboard_hparams(trial)["learner_config_dict/rbrl_spec/reward_model/alpha"] == alpha
        )
        if spec["method"] == "ours":
            alphas.add(alpha)
            assert f"_alpha={alpha:g}_" in trial.name and name.endswith(f"/alpha={alpha:g}")
            assert f"alpha={alpha:g}" in tags
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 6000
        assert 0 <= result["env_runners"]["episode_return_mean"] <= 1000
        assert list((trial / "wandb").glob("offline-run-*")), f"no W&B offline run in {trial}"
        if spec["method"] != "ppo":
            assert result["rating/num_ratings"] == 50
            assert len(load_latest(trial / "ratings")[1]) == 50  # synced beside checkpoints
    assert methods == {"ppo", "ours"} and alphas == {0.5, 1.0}
    assert (storage / "smoke" / "report" / "curves_cartpole-balance.png").stat().st_size > 0
    watch_and_link_a_trained_policy(storage / "smoke", trials)


def watch_and_link_a_trained_policy(experiment: Path, trials: list[Path]) -> None:
    """`play` renders a smoke trial's newest checkpoint as a user runs it (no MUJOCO_GL,
    the trial named by a relative path), and the report links the video."""
    ours = next(t for t in trials if "_ours_" in t.name)
    played = subprocess.run(
        [sys.executable, "-m", "rbrl_ray.play", ours.name, "--episodes", "2", "--steps", "30"],
        capture_output=True, text=True, timeout=300, env=users_environment(), cwd=ours.parent,
    )  # fmt: skip
    assert played.returncode == 0, played.stderr[-2000:]
    videos = list((ours / "play").glob("checkpoint_*.webm"))
    assert len(videos) == 1 and "true return per episode" in played.stdout
    assert len(video_frames(videos[0].read_bytes())) == 62  # 2 x (30 steps + the reset)
    report = subprocess.run([sys.executable, "-m", "rbrl_ray.report", str(experiment)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert report.returncode == 0, report.stderr[-2000:]
    page = (experiment / "report" / "report.md").read_text()
    assert f"cartpole-balance, ours: [{ours.name}/{videos[0].name}](../{ours.name}/play/" in page
