"""The learning gate: the README's demo sweep, shortened, still learns cartpole.

    python -m bench.learning_gate                      # the gate, as the test runs it
    python -m bench.learning_gate --seeds 0,1,2 --name demo_150k
    python -m bench.learning_gate --ppo free_log_std=false --name regression_log_std

Runs `python -m rbrl_ray.sweep` on tune_configs/demo.yaml as a user would (Ray, Tune,
RLlib, the rating service, the relabelling learner connector, the synthetic rater),
with the methods `ppo` (true reward) and `ours` (3-class ratings), then reads each
trial's final evaluation of the frozen policy. The gate passes when every trial
reaches THRESHOLD; the exit code is 1 otherwise. tests/test_learning_gate.py runs it
in CI. With --name the table is also written to bench/results/learning_gate_<name>.md,
beside the measurements that chose STEPS and THRESHOLDS (BENCHMARKS.md, "Learning gate").

Why these numbers (seed 0, the demo's own budget of 150k env steps; each trial is
deterministic on one machine, but returns differ between CPUs). Measured on
2026-12-06 on a 2-core AMD EPYC, after the first reward-model fit began to block
(the exploration reward now ends when configured), final evaluation returns:
- main, seeds 0 / 1 / 2: ours 970.2 / 996.7 / 992.6, ppo 973.2 / 989.1 / 999.1
  (bench/results/learning_gate_demo_150k_first_fit_blocks.*);
- RLlib's state-dependent log-std (`--ppo free_log_std=false`), seed 0: ours
  509.7, ppo 913.9 (..._regression_free_log_std_off_first_fit_blocks.*);
- all of RLlib's default parameterisation (also torch's init and Adam ε 1e-8),
  seed 0: ours 331.7, ppo 987.5 (..._regression_rllib_default_first_fit_blocks.*).
At the demo's lr and epochs it is the reward method that shows these regressions;
ppo alone does not. So the gate holds each method to its own bar: `ours` ≥ 750,
220 below the lowest working value seen and 240 above the highest regression;
`ppo` ≥ 500, a PPO that does not learn at all (an Intel machine gave ppo 757.3 at
seed 0 on the same code path, issue 30: rounding differs between CPUs). Before the
first fit blocked, ours reached 972.4 / 945.6 / 554.1 on main and 315.2 / 247.5 in
the regressions, and one bar of 500 separated them; with the blocking fit the
log-std regression reached 509.7, so that bar no longer caught it. Two trials of
150k steps: the test took 115 s on 2 idle cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.learning import ppo_overrides
from rbrl_ray.cli import OneLineParser, UsageError, int_in_range, run_main
from rbrl_ray.report.trials import load_trials

PROG = "python -m bench.learning_gate"
REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "tune_configs" / "demo.yaml"
METHODS = ("ppo", "ours")
STEPS = 150_000
THRESHOLDS = {"ppo": 500.0, "ours": 750.0}  # final evaluation return, per method


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int_in_range("steps", 1), default=STEPS)
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="METHOD=VALUE",
        help=f"override a method's bar (default: {THRESHOLDS})",
    )
    p.add_argument(
        "--ppo", action="append", default=[], metavar="KEY=VALUE", help="override a PPO setting"
    )
    p.add_argument("--name", help="also write bench/results/learning_gate_NAME.{json,md}")
    p.add_argument("--out", type=Path, help="sweep storage (default: a temporary folder)")
    return p


def gate_sweep(steps: int, seeds: list[int], overrides: dict[str, Any]) -> dict[str, Any]:
    """demo.yaml with the gate's methods, budget, seeds and PPO overrides."""
    sweep = yaml.safe_load(DEMO.read_text())
    sweep.update(name="learning_gate", methods=list(METHODS), timesteps=steps, seeds=seeds)
    sweep["ppo"] = {**sweep.get("ppo", {}), **overrides}
    sweep["env_settings"] = str(DEMO.parent / sweep.get("env_settings", "envs.yaml"))
    return sweep


def run_gate(sweep: dict[str, Any], storage: Path) -> list[dict[str, Any]]:
    """Run the sweep as a user would; each trial's method, seed and final evaluation."""
    config = storage / "learning_gate.yaml"
    config.write_text(yaml.safe_dump(sweep))
    command = [
        sys.executable, "-m", "rbrl_ray.sweep", "--config", str(config),
        "--storage", str(storage), "--wandb", "disabled",
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    loaded = load_trials(storage / sweep["name"])
    return [
        {"method": t.spec.method, "seed": t.spec.seed, "eval": t.final_eval_return}
        for t in sorted(loaded.trials, key=lambda t: (t.spec.method, t.spec.seed))
        if t.finished
    ]


def thresholds(overrides: list[str]) -> dict[str, float]:
    """THRESHOLDS with `--threshold METHOD=VALUE` applied; UsageError names a bad one."""
    bars = dict(THRESHOLDS)
    for item in overrides:
        method, _, value = item.partition("=")
        if method not in bars:
            raise UsageError(f"--threshold {item!r}: the method must be one of {', '.join(bars)}")
        try:
            bars[method] = float(value)
        except ValueError:
            raise UsageError(f"--threshold {item!r}: the value must be a number") from None
    return bars


def verdict(rows: list[dict[str, Any]], sweep: dict[str, Any], bars: dict[str, float]) -> bool:
    expected = len(METHODS) * len(sweep["seeds"])
    return len(rows) == expected and all(r["eval"] >= bars[r["method"]] for r in rows)


def table(rows: list[dict[str, Any]], sweep: dict[str, Any], bars: dict[str, float]) -> str:
    lines = [
        f"learning gate: demo.yaml, {sweep['timesteps']:,} env steps, "
        f"ppo overrides {sweep['ppo']}; final evaluation of the frozen policy",
        "",
        "| method | seed | final eval return |",
        "|---|---:|---:|",
        *(f"| {r['method']} | {r['seed']} | {r['eval']:.1f} |" for r in rows),
        "",
        "gate (every trial at its method's bar: "
        + ", ".join(f"{m} ≥ {bar:g}" for m, bar in bars.items())
        + "): "
        + ("PASS" if verdict(rows, sweep, bars) else "FAIL"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    bars = thresholds(args.threshold)
    sweep = gate_sweep(args.steps, seeds, ppo_overrides(args.ppo))
    with tempfile.TemporaryDirectory(prefix="learning_gate_") as scratch:
        storage = args.out or Path(scratch)
        storage.mkdir(parents=True, exist_ok=True)
        rows = run_gate(sweep, storage)
    text = table(rows, sweep, bars)
    print("\n" + text)
    if args.name:
        out = REPO / "bench" / "results" / f"learning_gate_{args.name}"
        out.with_suffix(".md").write_text(text + "\n")
        out.with_suffix(".json").write_text(json.dumps({"sweep": sweep, "trials": rows}, indent=1))
    return 0 if verdict(rows, sweep, bars) else 1


if __name__ == "__main__":
    run_main(main, PROG)
