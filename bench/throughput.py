"""Env steps per second of one trial alone: raw physics, sampling, the update's torch-only
floor, SB3 PPO (RbRL's backbone), ppo and ours.

    pip install -e ".[bench]"
    python -m bench.throughput --env cartpole-balance [--steps 128000] [--repeats 3]

Each measurement runs in a fresh process, one at a time, with the paper's PPO
settings for every learner (16k steps per rollout from 8 envs, minibatch 128,
20 epochs, 3x256 tanh nets, observation normalisation). Each is repeated; the
table gives the median and the spread (min..max), the peak memory of the process
tree, and the ratios the benchmark goals are stated in. Results are written to
bench/results/throughput_<env>.json after every measurement, so an interrupted
run keeps what it measured. Run it alone: anything else on the machine skews it.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.machine import describe_machine
from bench.peak_memory import PeakMemoryMonitor
from bench.records import move_aside
from bench.throughput_runs import KINDS
from rbrl_ray.cli import (
    CLASSES_HELP,
    OneLineParser,
    choice_error,
    choice_list,
    class_count,
    int_in_range,
    run_main,
)
from rbrl_ray.envs import TASK_NAMES
from rbrl_ray.experiment import PPO_PRESETS
from rbrl_ray.jsonio import write_json

PROG = "python -m bench.throughput"
HERE = Path(__file__).resolve().parent
LABELS = {
    "raw": "raw dm_control, 1 env, random actions",
    "sample": "our EnvRunner, sampling only",
    "floor": "PPO update alone in plain torch (floor)",
    "sb3": "SB3 PPO (RbRL backbone)",
    "ppo": "ours: ppo (env reward)",
    "ours": "ours: ours (reward model, background fit)",
    "ours_blocking": "ours: ours (reward model, blocking fit)",
}
DEFAULT_KINDS = ("raw", "sample", "floor", "sb3", "ppo", "ours")


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="cartpole-balance", help=f"one of: {', '.join(TASK_NAMES)}")
    p.add_argument(
        "--steps",
        type=int_in_range("steps", 1),
        default=128_000,
        help="env steps per learner measurement (128k: ours's exploration and 5 fits)",
    )
    p.add_argument(
        "--raw-steps",
        type=int_in_range("raw-steps", 1),
        default=20_000,
        help="env steps of the raw physics measurement",
    )
    p.add_argument("--repeats", type=int_in_range("repeats", 1), default=3)
    p.add_argument(
        "--preset",
        choices=sorted(PPO_PRESETS),
        default="paper",
        help="PPO settings for every learner: paper (default) or small (a quick check)",
    )
    p.add_argument("--classes", type=class_count, default=3, help=CLASSES_HELP)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--only", default=",".join(DEFAULT_KINDS), help=f"comma-separated: {', '.join(KINDS)}"
    )
    p.add_argument("--out", type=Path, default=HERE / "results")
    return p


def parse_kinds(text: str) -> list[str]:
    kinds = choice_list(text, KINDS, "measurement", "--only")
    return [k for k in KINDS if k in kinds]


def measure_once(kind: str, args: argparse.Namespace, log: Path) -> dict[str, Any]:
    steps = args.raw_steps if kind == "raw" else args.steps
    command = [
        sys.executable,
        "-m",
        "bench.throughput_runs",
        kind,
        "--env",
        args.env,
        "--steps",
        str(steps),
        "--seed",
        str(args.seed),
        "--classes",
        str(args.classes),
        "--preset",
        args.preset,
    ]
    with log.open("w") as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
        with PeakMemoryMonitor(proc.pid) as monitor:
            stdout, _ = proc.communicate()
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = log.read_text().strip().splitlines()[-5:]
        failure = f"{kind} failed (exit {proc.returncode}); see {log}:"
        raise RuntimeError("\n".join([failure, *tail]))
    out = json.loads(lines[-1][len("RESULT ") :])
    out["steps_per_s"] = out["steps"] / out["seconds"]
    out["peak_trial_gib"] = monitor.peak.trial_gib
    out["peak_total_gib"] = monitor.peak.total_gib
    out["peak_trial_pss_gib"] = monitor.peak.trial_pss_gib
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, float]:
    rates = [r["steps_per_s"] for r in runs]
    return {
        "median_steps_per_s": statistics.median(rates),
        "min_steps_per_s": min(rates),
        "max_steps_per_s": max(rates),
        "peak_trial_gib": max(r["peak_trial_gib"] for r in runs),
        "peak_total_gib": max(r["peak_total_gib"] for r in runs),
        # records from before PSS was measured have none
        "peak_trial_pss_gib": max(r.get("peak_trial_pss_gib", float("nan")) for r in runs),
    }


def goals(summary: dict[str, dict[str, float]]) -> dict[str, float]:
    """The goals as ratios of medians: ppo/sb3 ≥ 1, ours wall ≤ +5 %, sample/raw ≥ 0.7;
    and how far sb3 and ppo are from the update's torch-only floor (1.0: at it)."""
    rate = {k: v["median_steps_per_s"] for k, v in summary.items()}
    out: dict[str, float] = {}
    if "ppo" in rate and "sb3" in rate:
        out["ppo_over_sb3"] = rate["ppo"] / rate["sb3"]
    if "ours" in rate and "sb3" in rate:
        out["ours_over_sb3"] = rate["ours"] / rate["sb3"]
    if "ours" in rate and "ppo" in rate:
        out["ours_over_ppo"] = rate["ours"] / rate["ppo"]
        out["ours_extra_wall"] = rate["ppo"] / rate["ours"] - 1
    if "ours_blocking" in rate and "ppo" in rate:
        out["ours_blocking_extra_wall"] = rate["ppo"] / rate["ours_blocking"] - 1
    if "sample" in rate and "raw" in rate:
        out["sample_over_raw"] = rate["sample"] / rate["raw"]
    for kind in ("sb3", "ppo"):
        if kind in rate and "floor" in rate:
            out[f"{kind}_over_floor"] = rate[kind] / rate["floor"]
    learners = [v for k, v in summary.items() if k in ("sb3", "ppo", "ours")]
    if learners:
        out["peak_trial_gib"] = max(v["peak_trial_gib"] for v in learners)
        out["peak_trial_pss_gib"] = max(v.get("peak_trial_pss_gib", math.nan) for v in learners)
    if "ours" in summary:  # the memory goal: one `ours` trial's processes ≤ 2 GiB
        out["ours_peak_pss_gib"] = summary["ours"].get("peak_trial_pss_gib", math.nan)
    return out


def markdown(env: str, summary: dict[str, dict[str, float]], ratios: dict[str, float]) -> str:
    lines = [
        f"**{env}**",
        "",
        "| measurement | env steps/s (median) | min..max | peak RSS trial / all (GiB) "
        "| peak PSS trial (GiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in (k for k in KINDS if k in summary):
        s = summary[kind]
        lines.append(
            f"| {LABELS[kind]} | {s['median_steps_per_s']:,.0f} | "
            f"{s['min_steps_per_s']:,.0f}..{s['max_steps_per_s']:,.0f} | "
            f"{s['peak_trial_gib']:.2f} / {s['peak_total_gib']:.2f} | "
            f"{s.get('peak_trial_pss_gib', math.nan):.2f} |"
        )
    lines += ["", " · ".join(f"{k} {v:.3f}" for k, v in ratios.items())]
    return "\n".join(lines)


SETTINGS = ("env", "preset", "steps", "raw_steps", "classes", "seed")


def start_record(path: Path, args: argparse.Namespace, kinds: list[str]) -> dict[str, Any]:
    """The record this run fills in. An earlier record with the same settings keeps
    its measurements of the kinds not measured now; one with other settings is
    moved aside (never overwritten)."""
    record: dict[str, Any] = {
        **{k: getattr(args, k) for k in SETTINGS},
        "repeats": args.repeats,
        "machine": describe_machine(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "runs": {},
        "summary": {},
        "goals": {},
    }
    if not path.exists():
        return record
    old = json.loads(path.read_text())
    if all(old.get(k) == record[k] for k in SETTINGS) and old.get("machine") == record["machine"]:
        kept = {k: v for k, v in old["runs"].items() if k not in kinds}
        record["runs"] = kept
        record["summary"] = {k: summarise(v) for k, v in kept.items()}
        record["goals"] = goals(record["summary"])
        print(f"keeping the earlier measurements of {', '.join(kept) or 'nothing'} in {path}")
    else:
        move_aside(path, "had other settings")
    return record


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.env not in TASK_NAMES:
        raise choice_error("env", args.env, TASK_NAMES)
    kinds = parse_kinds(args.only)
    if "sb3" in kinds:
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            print(
                f"{PROG}: error: sb3 needs the bench extra: pip install -e '.[bench]'",
                file=sys.stderr,
            )
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "logs").mkdir(exist_ok=True)
    path = args.out / f"throughput_{args.env}.json"
    record = start_record(path, args, kinds)
    total, done = len(kinds) * args.repeats, 0
    for kind in kinds:
        record["runs"][kind] = []
    # Repeat by round, every kind once a round: a machine whose speed drifts (a
    # shared VM here: SB3's three runs once spread 755..1,015 steps/s) then shifts
    # all kinds alike, and the ratios of medians stay comparable.
    for i in range(args.repeats):
        for kind in kinds:
            runs = record["runs"][kind]
            done += 1
            print(f"[{done}/{total}] {LABELS[kind]}, repeat {i + 1}/{args.repeats} ...", flush=True)
            run = measure_once(kind, args, args.out / "logs" / f"{args.env}_{kind}_{i}.log")
            runs.append(run)
            print(
                f"        {run['steps_per_s']:,.1f} env steps/s over {run['steps']:,} steps, "
                f"peak {run['peak_trial_gib']:.2f} GiB trial / {run['peak_total_gib']:.2f} "
                "GiB all",
                flush=True,
            )
            record["summary"][kind] = summarise(runs)
            record["goals"] = goals(record["summary"])
            write_json(path, record)
    table = markdown(args.env, record["summary"], record["goals"])
    path.with_suffix(".md").write_text(table + "\n")
    print("\n" + table + f"\n\nwritten: {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    run_main(main, PROG)
