"""A packed machine: as many concurrent trials as it has cores, ours through Tune, against SB3.

    pip install -e ".[bench]"
    python -m bench.packed --env cartpole-balance [--steps 256000] [--trials N] [--only KINDS]

What a cluster grid pays per core. Our trials run through `python -m rbrl_ray.sweep`
with tune_configs/paper.yaml as it is (PPO preset, schedule, service CPUs, so the
same resource request per trial); only the grid is narrowed to one env, one method
(3 classes for reward methods), N seeds and --steps env steps each, with W&B off.
SB3 runs are N processes of `bench/throughput_runs.py sb3` started together, one
torch thread each. For each kind: aggregate env steps/s = all trials' env steps
over the time from the first trial's first iteration to the last trial's end,
and that per core. Written to bench/results/packed_<env>.json after each kind;
bench/grid_cost.py prices the paper grid from it. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.machine import describe_machine
from bench.records import move_aside
from rbrl_ray import metric_names as m
from rbrl_ray.cli import (
    OneLineParser,
    UsageError,
    choice_error,
    choice_list,
    int_in_range,
    run_main,
)
from rbrl_ray.envs import TASK_NAMES
from rbrl_ray.jsonio import write_json

PROG = "python -m bench.packed"
HERE = Path(__file__).resolve().parent
PAPER = HERE.parent / "tune_configs" / "paper.yaml"
KINDS = ("ppo", "ours", "sb3")
CLASSES = 3


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="cartpole-balance", help=f"one of: {', '.join(TASK_NAMES)}")
    p.add_argument(
        "--steps",
        type=int_in_range("steps", 1),
        default=256_000,
        help="per trial (default 256k: a reward trial's exploration and all 10 fits)",
    )
    p.add_argument(
        "--trials", type=int_in_range("trials", 1), help="concurrent trials (default: cores)"
    )
    p.add_argument("--only", default=",".join(KINDS), help=f"comma-separated: {', '.join(KINDS)}")
    p.add_argument("--config", type=Path, default=PAPER, help="the sweep whose settings to use")
    p.add_argument("--out", type=Path, default=HERE / "results")
    return p


def narrowed_sweep(config: Path, env: str, method: str, trials: int, steps: int) -> dict:
    """The sweep file's settings with the grid cut down to one env, one method, N seeds."""
    sweep = yaml.safe_load(config.read_text())
    env_settings = config.parent / sweep.get("env_settings", "envs.yaml")
    return {
        **sweep,
        "name": f"packed_{env}_{method}",
        "envs": [env],
        "methods": [method],
        "classes": [CLASSES],
        "seeds": trials,
        "timesteps": steps,
        "env_settings": str(env_settings.resolve()),
        # training throughput against SB3's, which evaluates nothing
        "evaluation": {"episodes": 0},
    }


def write_sweep(args: argparse.Namespace, method: str, work: Path) -> tuple[Path, Any]:
    """The narrowed sweep file for `method`, and its first trial's spec."""
    from rbrl_ray.sweep.grid import expand, load_sweep

    path = work / f"packed_{args.env}_{method}.yaml"
    sweep = narrowed_sweep(args.config, args.env, method, args.trials, args.steps)
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path, expand(*load_sweep(path), where=str(path))[0]


def reserved_per_trial(spec: Any) -> dict[str, float]:
    """The resources Tune reserves for one trial of the sweep (its placement group)."""
    from rbrl_ray.rllib.ppo import RatingPPO, RatingPPOConfig

    request = RatingPPO.default_resource_request(RatingPPOConfig.from_spec(spec))
    return {k: float(v) for k, v in request.required_resources.items() if v}


def trial_window(progress: Path) -> dict[str, float]:
    """Env steps and the [start, end] wall-clock window of a Tune trial's iterations."""
    rows = list(csv.DictReader(progress.open()))
    if not rows:
        raise RuntimeError(f"{progress} has no iterations")
    first, last = rows[0], rows[-1]
    return {
        "steps": int(float(last[m.STEPS])),
        "torch_threads": int(float(last[m.TORCH_THREADS])),
        "start": float(first["timestamp"]) - float(first["time_this_iter_s"]),
        "end": float(last["timestamp"]),
    }


def run_ours(method: str, args: argparse.Namespace, work: Path, log: Path) -> dict[str, Any]:
    sweep_file, spec = write_sweep(args, method, work)
    command = [sys.executable, "-m", "rbrl_ray.sweep", "--config", str(sweep_file)]
    command += ["--storage", str(work / "sweeps"), "--wandb", "disabled"]
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text().strip().splitlines()[-5:]
        raise RuntimeError("\n".join([f"{method} sweep failed; see {log}:", *tail]))
    progress = sorted((work / "sweeps" / f"packed_{args.env}_{method}").glob("*/progress.csv"))
    trials = [trial_window(p) for p in progress]
    if len(trials) != args.trials:
        raise RuntimeError(f"{method}: {len(trials)} of {args.trials} trials reported; see {log}")
    return {"trials": trials, "reserved_per_trial": reserved_per_trial(spec)}


def run_sb3(args: argparse.Namespace, work: Path, log: Path) -> dict[str, Any]:
    """N SB3 processes at once, one torch thread each, with the sweep's PPO settings."""
    _, spec = write_sweep(args, "ppo", work)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "bench.throughput_runs", "sb3", "--env", args.env]
    command += ["--steps", str(args.steps), "--ppo", spec.ppo.model_dump_json()]
    with log.open("w") as err:
        procs = [
            subprocess.Popen(
                [*command, "--seed", str(seed)],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
            )
            for seed in range(args.trials)
        ]
        outputs = [p.communicate()[0] for p in procs]
    trials = []
    for proc, stdout in zip(procs, outputs, strict=True):
        lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"sb3 run failed (exit {proc.returncode}); see {log}")
        trials.append(json.loads(lines[-1][len("RESULT ") :]))
    return {"trials": trials, "reserved_per_trial": {"CPU": 1.0}}


def summarise(run: dict[str, Any], cores: int) -> dict[str, float]:
    trials = run["trials"]
    wall = max(t["end"] for t in trials) - min(t["start"] for t in trials)
    aggregate = sum(t["steps"] for t in trials) / wall
    return {
        "wall_s": wall,
        "aggregate_steps_per_s": aggregate,
        "steps_per_s_per_core": aggregate / cores,
        "steps_per_s_per_trial": aggregate / len(trials),
        "reserved_cpus_per_trial": run["reserved_per_trial"].get("CPU", 0.0),
    }


def goals(summary: dict[str, dict[str, float]]) -> dict[str, float]:
    """Per-core aggregate throughput of ours over SB3's, packed the same way (goal ≥ 1)."""
    per_core = {k: v["steps_per_s_per_core"] for k, v in summary.items()}
    return {
        f"{k}_over_sb3": per_core[k] / per_core["sb3"]
        for k in ("ppo", "ours")
        if k in per_core and "sb3" in per_core
    }


def markdown(record: dict[str, Any]) -> str:
    lines = [
        f"**{record['env']}**, {record['trials']} concurrent trials of {record['steps']:,} env "
        f"steps on {record['machine']['cores']} cores",
        "",
        "| trials | reserved CPUs a trial | aggregate env steps/s | per core | wall (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, s in record["summary"].items():
        lines.append(
            f"| {kind} | {s['reserved_cpus_per_trial']:g} | {s['aggregate_steps_per_s']:,.0f} | "
            f"{s['steps_per_s_per_core']:,.0f} | {s['wall_s']:,.0f} |"
        )
    lines += ["", " · ".join(f"{k} {v:.3f}" for k, v in record["goals"].items())]
    return "\n".join(lines)


def start_record(path: Path, args: argparse.Namespace, kinds: list[str]) -> dict[str, Any]:
    """A record with the settings of this run; an earlier one with the same settings
    keeps its other kinds, one with other settings is moved aside."""
    settings = {"env": args.env, "steps": args.steps, "trials": args.trials}
    record = {**settings, "config": str(args.config), "machine": describe_machine(), "runs": {}}
    if path.exists():
        old = json.loads(path.read_text())
        if (
            all(old.get(k) == v for k, v in settings.items())
            and old["machine"] == record["machine"]
        ):
            record["runs"] = {k: v for k, v in old["runs"].items() if k not in kinds}
        else:
            move_aside(path, "had other settings")
    return record


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.env not in TASK_NAMES:
        raise choice_error("env", args.env, TASK_NAMES)
    kinds = [k for k in KINDS if k in choice_list(args.only, KINDS, "kind", "--only")]
    if "sb3" in kinds:
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            raise UsageError("sb3 needs the bench extra: pip install -e '.[bench]'") from None
    if not args.config.is_file():
        raise UsageError(f"--config {str(args.config)!r}: no such sweep file")
    cores = os.cpu_count() or 1
    args.trials = args.trials or cores
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "logs").mkdir(exist_ok=True)
    path = args.out / f"packed_{args.env}.json"
    record = start_record(path, args, kinds)
    with tempfile.TemporaryDirectory(prefix="packed_") as tmp:
        for kind in kinds:
            print(f"{kind}: {args.trials} trials of {args.steps:,} steps at once ...", flush=True)
            log = args.out / "logs" / f"packed_{args.env}_{kind}.log"
            started = time.perf_counter()
            if kind == "sb3":
                run = run_sb3(args, Path(tmp), log)
            else:
                run = run_ours(kind, args, Path(tmp), log)
            record["runs"][kind] = run
            record["summary"] = {k: summarise(v, cores) for k, v in record["runs"].items()}
            record["goals"] = goals(record["summary"])
            write_json(path, record)
            s = record["summary"][kind]
            took = time.perf_counter() - started
            print(
                f"        {s['aggregate_steps_per_s']:,.0f} env steps/s in all, "
                f"{s['steps_per_s_per_core']:,.0f} per core ({took:,.0f} s)",
                flush=True,
            )
    table = markdown(record)
    path.with_suffix(".md").write_text(table + "\n")
    print("\n" + table + f"\n\nwritten: {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    run_main(main, PROG)
