"""Small real sweeps for the tests: a YAML written from a dict, and its command line."""

import sys
from pathlib import Path

import yaml

TINY = {
    "envs": ["cartpole-balance"],
    "classes": [3],
    "seeds": 1,
    "preset": "small",
    "ppo": {"num_env_runners": 0},
    "reward_model": {"max_epochs": 5, "hidden": 64, "layers": 2},
    "service_cpus": 0,
    "evaluation": {"episodes": 2, "every": 0},
}


def write_sweep(folder: Path, name: str, **fields) -> Path:
    """A sweep YAML (TINY overridden by `fields`) with an empty envs.yaml beside it."""
    (folder / "envs.yaml").write_text("{}\n")
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **TINY, **fields}, sort_keys=False))
    return path


def sweep_command(config: Path, storage: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "rbrl_ray.sweep",
        "--config",
        str(config),
        "--storage",
        str(storage),
        "--wandb",
        "disabled",
        *extra,
    ]
