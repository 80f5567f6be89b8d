"""Core-hours of the paper grid at measured throughput: this project versus SB3.

    python bench/grid_cost.py [bench/results/throughput_*.json ...]

Reads throughput results and prices tune_configs/paper.yaml's grid with them:
ppo trials at the `ppo` rate, reward-method trials at the `ours` rate, and the
same grid at SB3's rate, the RbRL backbone (whose ppo would not be deduplicated,
but the count is kept equal here so only the rate differs). Envs without a
measurement are priced at the mean rate of the measured ones. A trial's cores are
the machine's cores while it ran (the measurement had the machine to itself).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from rbrl_ray.sweep.grid import expand, load_sweep

HERE = Path(__file__).resolve().parent
PAPER = HERE.parent / "tune_configs" / "paper.yaml"


def load_rates(paths: list[Path]) -> tuple[dict[str, dict[str, float]], int]:
    rates, cores = {}, 1
    for path in paths:
        record = json.loads(path.read_text())
        summary = record["summary"]
        rates[record["env"]] = {k: v["median_steps_per_s"] for k, v in summary.items()}
        cores = record["machine"]["cores"]
    return rates, cores


def rate_for(rates: dict[str, dict[str, float]], env: str, kind: str) -> float:
    if env in rates and kind in rates[env]:
        return rates[env][kind]
    return statistics.mean(r[kind] for r in rates.values() if kind in r)


def grid_core_hours(rates: dict[str, dict[str, float]], cores: int) -> dict[str, float]:
    specs = expand(*load_sweep(PAPER), where=str(PAPER))
    hours = {"this project": 0.0, "SB3 rate": 0.0}
    for spec in specs:
        kind = "ppo" if spec.method == "ppo" else "ours"
        hours["this project"] += spec.timesteps / rate_for(rates, spec.env, kind) / 3600 * cores
        hours["SB3 rate"] += spec.timesteps / rate_for(rates, spec.env, "sb3") / 3600 * cores
    hours["trials"] = len(specs)
    return hours


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted((HERE / "results").glob("throughput_*.json"))
    if not paths:
        print(
            "grid_cost.py: error: no throughput_*.json; run bench/throughput.py first",
            file=sys.stderr,
        )
        return 2
    rates, cores = load_rates(paths)
    missing = [k for k in ("ppo", "ours", "sb3") if not any(k in r for r in rates.values())]
    if missing:
        print(
            f"grid_cost.py: error: no measurement of {', '.join(missing)} in "
            f"{', '.join(map(str, paths))}; needed: ppo, ours, sb3",
            file=sys.stderr,
        )
        return 2
    hours = grid_core_hours(rates, cores)
    trials = int(hours.pop("trials"))
    print(f"paper grid: {trials:,} trials x 4,000,000 steps; rates from {', '.join(rates)}")
    print("| rate | core-hours | on 100 cores (days) |\n|---|---:|---:|")
    for name, h in hours.items():
        print(f"| {name} | {h:,.0f} | {h / 100 / 24:,.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
