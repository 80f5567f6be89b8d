"""Small real sweeps for the tests: a YAML written from a dict, and its command line."""

import contextlib
import json
import os
import pickle
import sys
from pathlib import Path

import psutil
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


def checkpoint_service_state(checkpoint: Path) -> dict | None:
    """The rating service's state in a trial checkpoint (None for method ppo)."""
    with open(checkpoint / "algorithm_state.pkl", "rb") as handle:
        return pickle.load(handle).get("rating_service")


def tensorboard_hparams(trial: Path) -> dict:
    """The HParams a trial's TensorBoard events hold (Tune's TBX logger writes them at
    the first result): name -> value, read with tensorboardX's own protobufs."""
    import struct

    from tensorboardX.proto import event_pb2, plugin_hparams_pb2

    hparams = {}
    for path in trial.glob("events.out.tfevents.*"):
        data = path.read_bytes()
        at = 0
        while at + 12 <= len(data):  # TFRecord: length, its crc, the record, its crc
            (length,) = struct.unpack("<Q", data[at : at + 8])
            event = event_pb2.Event.FromString(data[at + 12 : at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                if value.tag != "_hparams_/session_start_info":
                    continue
                plugin = plugin_hparams_pb2.HParamsPluginData.FromString(
                    value.metadata.plugin_data.content
                )
                for name, v in plugin.session_start_info.hparams.items():
                    hparams[name] = v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
    return hparams


def wandb_offline_run(trial: Path) -> tuple[str, list[str], dict]:
    """A trial's W&B offline run as W&B stored it (its run record in run-*.wandb, a
    LevelDB-style log of protobuf records): display name, tags, config (JSON values)."""
    import struct

    from wandb.proto import wandb_internal_pb2

    path = sorted(trial.glob("wandb/offline-run-*/run-*.wandb"))[0]  # the first attempt's
    data = path.read_bytes()
    assert data[:4] == b":W&B", data[:7]
    block, at, parts = 32768, 7, b""
    while at + 7 <= len(data):
        if block - at % block < 7:  # a block's tail too short for a chunk header
            at += block - at % block
            continue
        length, kind = struct.unpack("<HB", data[at + 4 : at + 7])  # after the crc
        parts = (
            data[at + 7 : at + 7 + length]
            if kind in (1, 2)
            else parts + data[at + 7 : at + 7 + length]
        )
        at += 7 + length
        if kind in (1, 4):  # a whole record, or its last chunk
            record = wandb_internal_pb2.Record.FromString(parts)
            if record.WhichOneof("record_type") == "run":
                run = record.run
                config = {i.key: json.loads(i.value_json) for i in run.config.update if i.key}
                return run.display_name, list(run.tags), config
    raise AssertionError(f"no run record in {path}")
