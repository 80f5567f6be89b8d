"""Driving `python -m rbrl_ray.campaign` from tests: tiny campaign YAMLs, the command,
and a Ctrl+C while Tune trains a resumed run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.sweep_helpers import TINY

SHARED = {k: v for k, v in TINY.items() if k not in ("envs", "classes", "seeds")}
SCHEDULE = {"explore_steps": 1000, "every": 1000, "per_query": 10, "total": 20}


def write_campaign(folder: Path, tiers: dict, **shared) -> Path:
    (folder / "envs.yaml").write_text("{}\n")
    path = folder / "camp.yaml"
    body = {"name": "camp", **SHARED, "checkpoint_every": 1, **shared, "tiers": tiers}
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def campaign(config: Path, root: Path, *extra: str, **popen):
    command = [
        sys.executable, "-m", "rbrl_ray.campaign", "--config", str(config),
        "--records", str(root / "records"), "--storage", str(root / "storage"),
        "--wandb", "disabled", *extra,
    ]  # fmt: skip
    if popen:
        return subprocess.Popen(command, text=True, **popen)
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def tier(methods, timesteps=2000, seeds=1, classes=(3,)):
    return {
        "envs": ["cartpole-balance"],
        "methods": list(methods),
        "classes": list(classes),
        "seeds": seeds,
        "timesteps": timesteps,
    }


def stopped_while_resuming(config: Path, root: Path) -> int:
    """The campaign's exit code when Ctrl+C reaches it while Tune trains a resumed run."""
    log = root / "stopped_run.log"
    with open(log, "w") as output:
        proc = campaign(
            config, root, "--max-concurrent", "1", stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.time() + 600
        # Tune's status table after the resume: its SIGINT handler is in place
        while "== Status ==" not in log.read_text().partition("resuming run-1")[2]:
            assert proc.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text()
    assert "run-1 was stopped; the command resumes it" in text, text[-3000:]
    return code
