"""Learning parity: our PPO against SB3 PPO (the paper's) with identical settings.

    pip install -e ".[bench]"
    python -m bench.learning --env cartpole-balance --steps 300000 --seeds 0,1,2
    python -m bench.learning --env walker-walk --steps 500000 --kinds ppo,sb3
    python -m bench.learning --name ablation_rllib_default --kinds ppo \\
        --ppo free_log_std=false --ppo init=torch --ppo adam_eps=1e-8

Each run (kind × seed) trains in its own process and reports, per iteration, the
mean true return of the episodes that ended in it. KINDS: ppo (this project's
RatingPPO on the env reward), sb3 (stable-baselines3 PPO, the RbRL backbone, same
settings) and ours (RatingPPO learning from 3-class synthetic ratings). `--ppo`
changes our PPO's settings (the paper preset's); SB3 keeps its own policy
parameterisation, so only the hyperparameters it shares reach it.

The record, bench/results/learning_<name>.{json,md,png}, is written after every
run: rerunning the same command skips finished runs, so an interrupted
benchmark continues where it stopped. "Final" is the mean return of the last
FINAL_ITERATIONS iterations' episodes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.learning_runs import KINDS
from bench.machine import describe_machine
from bench.records import move_aside
from rbrl_ray.cli import OneLineParser, UsageError, choice_list, int_in_range, run_main
from rbrl_ray.envs import TASK_NAMES, get_task
from rbrl_ray.experiment import PPO_PRESETS, PPOSettings
from rbrl_ray.jsonio import write_json
from rbrl_ray.validation import error_line

PROG = "python -m bench.learning"
HERE = Path(__file__).resolve().parent
FINAL_ITERATIONS = 2
LABELS = {
    "ppo": "ours: ppo (RLlib)",
    "sb3": "SB3 PPO",
    "sb3_rbrl": "SB3 PPO, RbRL's settings (gSDE, clip decay)",
    "ours": "ours: ours, 3 classes",
}
COLOURS = {"ppo": "tab:red", "sb3": "black", "sb3_rbrl": "tab:gray", "ours": "tab:blue"}


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="cartpole-balance", help=f"one of: {', '.join(TASK_NAMES)}")
    p.add_argument("--steps", type=int_in_range("steps", 1), default=300_000)
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--kinds", default="ppo,sb3", help=f"comma-separated: {', '.join(KINDS)}")
    p.add_argument("--preset", choices=sorted(PPO_PRESETS), default="paper")
    p.add_argument(
        "--ppo", action="append", default=[], metavar="KEY=VALUE", help="our PPO settings"
    )
    p.add_argument("--name", help="record name (default: the env)")
    p.add_argument("--jobs", type=int_in_range("jobs", 1), default=1, help="runs at a time")
    p.add_argument(
        "--threads",
        type=int_in_range("threads", 1),
        help="torch threads a run (default: cores/jobs)",
    )
    p.add_argument("--target", type=float, help="parity check: each ppo seed's final ≥ this")
    p.add_argument("--out", type=Path, default=HERE / "results")
    return p


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise UsageError("--seeds is empty")
    return seeds


def parse_ppo(preset: str, items: list[str]) -> PPOSettings:
    """The preset's settings with KEY=VALUE overrides (values parsed as JSON where they can be)."""
    overrides = ppo_overrides(items)
    try:
        return PPOSettings.model_validate({**PPO_PRESETS[preset].model_dump(), **overrides})
    except ValueError as err:
        raise UsageError(f"--ppo {error_line(err)}") from None


def ppo_overrides(items: list[str]) -> dict[str, Any]:
    """`--ppo KEY=VALUE` items as a dict of PPOSettings fields (values parsed as JSON
    where they can be); an unknown key is a usage error naming the allowed ones."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in PPOSettings.model_fields:
            raise UsageError(
                f"unknown --ppo setting {item!r}; allowed keys: "
                + ", ".join(PPOSettings.model_fields)
            )
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    return overrides


def final_return(curve: list[dict[str, Any]]) -> float | None:
    values = [c["return"] for c in curve if c["return"] is not None][-FINAL_ITERATIONS:]
    return statistics.fmean(values) if values else None


def with_current_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """A record's settings with PPO fields added since it was written set to their defaults.

    A new PPOSettings field (say `update_loop`) must not orphan the runs already on
    record; a field whose recorded value differs from the default still does.
    """
    try:
        ppo = PPOSettings.model_validate(settings.get("ppo", {})).model_dump()
    except ValueError:
        return settings
    return json.loads(json.dumps({**settings, "ppo": ppo}))


class Record:
    """The benchmark's record on disk: settings, machine, and every finished run."""

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        self.path, self.lock = path, threading.Lock()
        self.data: dict[str, Any] = {
            "settings": settings,
            "machine": describe_machine(),
            "runs": {},
        }
        if path.exists():
            old = json.loads(path.read_text())
            if with_current_defaults(old.get("settings", {})) == settings:
                self.data["runs"] = old.get("runs", {})
            else:
                move_aside(path, "had other settings")

    def done(self, key: str) -> bool:
        return key in self.data["runs"]

    def add(self, key: str, run: dict[str, Any]) -> None:
        with self.lock:
            self.data["runs"][key] = run
            write_json(self.path, self.data)


def run_one(kind: str, seed: int, args: argparse.Namespace, ppo: PPOSettings) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "bench.learning_runs", kind, "--env", args.env,
        "--steps", str(args.steps), "--seed", str(seed), "--ppo", ppo.model_dump_json(),
    ]  # fmt: skip
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    log = args.out / "logs" / f"learning_{args.name}_{kind}_{seed}.log"
    curve: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    with log.open("w") as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        for line in proc.stdout:
            tag, _, payload = line.partition(" ")
            if tag == "POINT":
                curve.append(json.loads(payload))
                shown = curve[-1]["return"]
                shown = "–" if shown is None else f"{shown:.1f}"
                steps = curve[-1]["steps"]
                print(f"  [{kind}/{seed}] {steps:>9,} steps: return {shown}", flush=True)
            elif tag == "RESULT":
                result = json.loads(payload)
        proc.wait()
    if proc.returncode != 0 or not result:
        tail = log.read_text().strip().splitlines()[-5:]
        raise RuntimeError("\n".join([f"{kind}/{seed} failed; see {log}:", *tail]))
    return {**result, "torch_threads": threads, "curve": curve, "final": final_return(curve)}


def summary(record: dict[str, Any], kinds: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        runs = {k: r for k, r in record["runs"].items() if k.split("/")[0] == kind}
        finals = [r["final"] for r in runs.values() if r["final"] is not None]
        if not finals:
            continue
        se = statistics.stdev(finals) / len(finals) ** 0.5 if len(finals) > 1 else None
        out[kind] = {
            "finals": {k.split("/")[1]: r["final"] for k, r in runs.items()},
            "mean": statistics.fmean(finals),
            "se": se,
            "steps_per_s": statistics.fmean(r["steps"] / r["seconds"] for r in runs.values()),
        }
    return out


def parity(table: dict[str, dict[str, Any]], target: float | None) -> list[str]:
    """The issue's parity check, as lines: each ppo seed ≥ target; ppo mean ≥ SB3 mean."""
    lines = []
    if "ppo" in table and target is not None:
        ok = all(v >= target for v in table["ppo"]["finals"].values())
        lines.append(f"every ppo seed's final ≥ {target:g}: {'yes' if ok else 'NO'}")
    if "ppo" in table and "sb3" in table:
        ok = table["ppo"]["mean"] >= table["sb3"]["mean"]
        lines.append(
            f"ppo mean {table['ppo']['mean']:.1f} ≥ SB3 mean {table['sb3']['mean']:.1f}: "
            f"{'yes' if ok else 'NO'}"
        )
    return lines


def markdown(name: str, settings: dict[str, Any], table: dict[str, dict[str, Any]]) -> str:
    seeds = settings["seeds"]
    lines = [
        f"**{name}**: {settings['env']}, {settings['steps']:,} env steps, "
        f"final = mean return of the last {FINAL_ITERATIONS} iterations' episodes",
        "",
        "| run | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± s.e. | env steps/s |",
        "|---|" + "---:|" * (len(seeds) + 2),
    ]
    for kind, row in table.items():
        cells = [row["finals"].get(str(s)) for s in seeds]
        shown = ["–" if c is None else f"{c:.1f}" for c in cells]
        se = "" if row["se"] is None else f" ± {row['se']:.1f}"
        lines.append(
            f"| {LABELS[kind]} | " + " | ".join(shown)
            + f" | {row['mean']:.1f}{se} | {row['steps_per_s']:,.0f} |"
        )  # fmt: skip
    return "\n".join(lines)


def curves_of(record: dict[str, Any], kind: str) -> list[list[dict[str, Any]]]:
    """Each seed's curve of one kind, iterations without an episode left out."""
    curves = [r["curve"] for k, r in record["runs"].items() if k.split("/")[0] == kind]
    curves = [[c for c in cv if c["return"] is not None] for cv in curves]
    return [cv for cv in curves if cv]


def plot_band(ax: Any, curves: list[list[dict[str, Any]]], colour: str, label: str) -> None:
    """Each seed thin, their mean ± s.e. on a common step grid bold."""
    import numpy as np

    grid = np.unique(np.concatenate([[c["steps"] for c in cv] for cv in curves]))
    values = np.stack(
        [np.interp(grid, [c["steps"] for c in cv], [c["return"] for c in cv]) for cv in curves]
    )
    mean = values.mean(axis=0)
    se = values.std(axis=0, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0 * mean
    for v in values:
        ax.plot(grid, v, color=colour, alpha=0.25, linewidth=0.8)
    ax.plot(grid, mean, color=colour, label=f"{label} (n={len(values)})")
    ax.fill_between(grid, mean - se, mean + se, color=colour, alpha=0.2)


def save_axes(fig: Any, ax: Any, title: str, out: Path) -> None:
    import matplotlib.pyplot as plt

    ax.set_xlabel("env steps")
    ax.set_ylabel("true episode return")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def figure(record: dict[str, Any], kinds: list[str], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for kind in kinds:
        curves = curves_of(record, kind)
        if curves:
            plot_band(ax, curves, COLOURS[kind], LABELS[kind])
    save_axes(fig, ax, title, out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    get_task(args.env)  # one line naming the allowed envs
    seeds = parse_seeds(args.seeds)
    kinds = choice_list(args.kinds, KINDS, "kind", "--kinds")
    ppo = parse_ppo(args.preset, args.ppo)
    if {"sb3", "sb3_rbrl"} & set(kinds):
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            raise UsageError("sb3 needs the bench extra: pip install -e '.[bench]'") from None
    args.name = args.name or args.env
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    path = args.out / f"learning_{args.name}.json"
    settings = {"env": args.env, "steps": args.steps, "seeds": seeds, "ppo": ppo.model_dump()}
    settings = json.loads(json.dumps(settings))  # as the record on disk holds them
    record = Record(path, settings)
    todo = [(k, s) for k in kinds for s in seeds if not record.done(f"{k}/{s}")]
    skipped = len(kinds) * len(seeds) - len(todo)
    print(f"{len(todo)} runs to do" + (f", {skipped} already in {path}" if skipped else ""))

    def work(job: tuple[str, int]) -> None:
        kind, seed = job
        run = run_one(kind, seed, args, ppo)
        record.add(f"{kind}/{seed}", run)
        print(f"done {kind}/{seed}: final {run['final']}, {run['seconds']:.0f} s", flush=True)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in [pool.submit(work, job) for job in todo]:
            future.result()
    recorded = [k for k in KINDS if any(key.split("/")[0] == k for key in record.data["runs"])]
    table = summary(record.data, recorded)
    text = markdown(args.name, settings, table) + "\n\n" + "\n".join(parity(table, args.target))
    path.with_suffix(".md").write_text(text + "\n")
    title = args.env if args.name == args.env else f"{args.name}: {args.env}"
    figure(record.data, recorded, path.with_suffix(".png"), title)
    print("\n" + text + f"\n\nwritten: {path}, .md and .png")
    return 0


if __name__ == "__main__":
    run_main(main, PROG)
