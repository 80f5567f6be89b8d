"""One table across learning records: the ablation of BENCHMARKS.md, "Learning parity".

    python -m bench.learning_table ablation_rllib_default ablation_free_log_std_only \
        cartpole-balance --at 208000 [--kinds ppo,sb3]

For each record (bench/results/learning_<name>.json) and each seed: the mean
return of the last FINAL_ITERATIONS iterations at or before `--at` env steps, so
records of different lengths compare at one budget. A record's PPO settings that
differ from the paper preset are listed beside its name.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from bench.learning import FINAL_ITERATIONS, HERE, curves_of, plot_band, save_axes
from rbrl_ray.cli import OneLineParser, UsageError, int_in_range, run_main
from rbrl_ray.experiment import PPO_PRESETS, PPOSettings

PROG = "python -m bench.learning_table"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="+", help="record names: bench/results/learning_<name>.json")
    p.add_argument("--at", type=int_in_range("at", 1), required=True, help="env steps")
    p.add_argument("--kinds", default="ppo", help="comma-separated run kinds (ppo, sb3, ours)")
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--figure", type=Path, help="also draw every row's curves here (PNG)")
    return p


def value_at(curve: list[dict[str, Any]], at: int) -> float | None:
    returns = [c["return"] for c in curve if c["steps"] <= at and c["return"] is not None]
    return statistics.fmean(returns[-FINAL_ITERATIONS:]) if returns else None


def changed_settings(record: dict[str, Any]) -> str:
    paper = json.loads(PPO_PRESETS["paper"].model_dump_json())
    # a field the record does not name ran with PPOSettings' default for it (the value
    # that means "what ran before the field existed": RLlib's filter merge, say)
    ran = json.loads(PPOSettings.model_validate(record["settings"]["ppo"]).model_dump_json())
    changed = {k: v for k, v in ran.items() if paper.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "paper preset"


def row(name: str, record: dict[str, Any], kind: str, at: int, seeds: list[int]) -> str:
    values = {
        int(key.split("/")[1]): value_at(run["curve"], at)
        for key, run in record["runs"].items()
        if key.split("/")[0] == kind
    }
    cells = ["–" if values.get(s) is None else f"{values[s]:.1f}" for s in seeds]
    found = [v for v in values.values() if v is not None]
    mean = f"{statistics.fmean(found):.1f}" if found else "–"
    if len(found) > 1:
        mean += f" ± {statistics.stdev(found) / len(found) ** 0.5:.1f}"
    label = f"{name}, {kind}" + ("" if kind == "sb3" else f" ({changed_settings(record)})")
    return f"| {label} | " + " | ".join(cells) + f" | {mean} |"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    records = {}
    for name in args.names:
        path = args.results / f"learning_{name}.json"
        if not path.is_file():
            raise UsageError(f"no learning record {str(path)!r}")
        records[name] = json.loads(path.read_text())
    seeds = sorted({s for r in records.values() for s in r["settings"]["seeds"]})
    print(f"return at {args.at:,} env steps (mean of the last {FINAL_ITERATIONS} iterations)\n")
    print("| record (settings) | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± s.e. |")
    print("|---|" + "---:|" * (len(seeds) + 1))
    rows = [
        (name, record, kind)
        for name, record in records.items()
        for kind in args.kinds.split(",")
        if any(key.split("/")[0] == kind for key in record["runs"])
    ]
    for name, record, kind in rows:
        print(row(name, record, kind, args.at, seeds))
    if args.figure:
        draw(rows, args.at, args.figure)
        print(f"\nwritten: {args.figure}")
    return 0


def draw(rows: list[tuple[str, dict[str, Any], str]], at: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for (name, record, kind), colour in zip(rows, plt.get_cmap("tab10").colors, strict=False):
        curves = [[c for c in cv if c["steps"] <= at] for cv in curves_of(record, kind)]
        if any(curves):
            plot_band(ax, [cv for cv in curves if cv], colour, f"{name}, {kind}")
    save_axes(fig, ax, f"true return up to {at:,} env steps", out)


if __name__ == "__main__":
    run_main(main, PROG)
