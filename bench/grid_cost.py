"""Reserved core-hours of the paper grid at packed-machine throughput: this project versus SB3.

    python -m bench.grid_cost [bench/results/packed_*.json ...]

Reads bench/packed.py's records (trials packed one per core, as a cluster runs a
grid) and prices tune_configs/paper.yaml's grid. Each trial reserves the CPUs its
Tune placement group asks for (RatingPPO.default_resource_request of its spec) for
as long as it runs:

- a `ppo` trial: all its steps at the packed `ppo` rate;
- a reward-method trial: the first S steps at the packed `ours` rate (S: the
  steps the `ours` record measured; at S ≥ 232k that covers the exploration and
  all ten rating queries and fits) and the rest at the `ppo` rate;
- as SB3 (the RbRL backbone, one CPU a trial): all steps at SB3's packed rate,
  plus, for a reward-method trial, the same reward-learning time ours spent over
  its first S steps beyond `ppo` (exploration reward, fits: RbRL's code does the
  same work). The trial count is kept equal (RbRL would not deduplicate `ppo`
  across class counts) so only rates and reservations differ.

Envs without a record are priced at the mean of the measured ones.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from rbrl_ray.cli import OneLineParser, UsageError, run_main
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.sweep.grid import expand, load_sweep

PROG = "python -m bench.grid_cost"
HERE = Path(__file__).resolve().parent
PAPER = HERE.parent / "tune_configs" / "paper.yaml"
KINDS = ("ppo", "ours", "sb3")
Rates = dict[str, dict[str, float]]


def load_packed(paths: list[Path]) -> tuple[Rates, dict[str, int]]:
    """env -> kind -> env steps/s of one trial on a packed machine; env -> steps measured."""
    rates: Rates = {}
    steps: dict[str, int] = {}
    for path in paths:
        try:
            record = json.loads(path.read_text())
            summary = {k: v["steps_per_s_per_trial"] for k, v in record["summary"].items()}
            rates[record["env"]], steps[record["env"]] = summary, int(record["steps"])
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise UsageError(
                f"{path}: not a bench/packed.py record ({type(err).__name__}: {err}); "
                "give packed_*.json files"
            ) from None
    return rates, steps


def rate_for(rates: Rates, env: str, kind: str) -> float:
    if env in rates and kind in rates[env]:
        return rates[env][kind]
    return statistics.mean(r[kind] for r in rates.values() if kind in r)


def reserved_cpus(spec: ExperimentSpec) -> float:
    """CPUs in the trial's placement group, as Tune reserves them."""
    from rbrl_ray.rllib.ppo import RatingPPO, RatingPPOConfig

    request = RatingPPO.default_resource_request(RatingPPOConfig.from_spec(spec))
    return float(request.required_resources.get("CPU", 0))


def trial_hours(
    rates: Rates, measured: dict[str, int], spec: ExperimentSpec
) -> tuple[float, float]:
    """Wall hours of one trial: (this project, as SB3)."""
    total = spec.timesteps
    ppo, sb3 = rate_for(rates, spec.env, "ppo"), rate_for(rates, spec.env, "sb3")
    if spec.method == "ppo":
        return total / ppo / 3600, total / sb3 / 3600
    ours = rate_for(rates, spec.env, "ours")
    early = min(total, measured.get(spec.env, statistics.mean(measured.values())))
    reward_learning = early / ours - early / ppo  # what ours spent beyond ppo
    seconds = early / ours + (total - early) / ppo
    return seconds / 3600, (total / sb3 + reward_learning) / 3600


def grid_core_hours(
    rates: Rates, measured: dict[str, int], specs: list[ExperimentSpec]
) -> dict[str, float]:
    hours = {"this project": 0.0, "SB3": 0.0}
    cpus: dict[str, float] = {}
    for spec in specs:
        kind = "ppo" if spec.method == "ppo" else "ours"
        if kind not in cpus:
            cpus[kind] = reserved_cpus(spec)
        ours, sb3 = trial_hours(rates, measured, spec)
        hours["this project"] += ours * cpus[kind]
        hours["SB3"] += sb3
    return hours


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="*", type=Path, help="packed_*.json (default: all)")
    args = parser.parse_args(argv)
    paths = args.records or sorted((HERE / "results").glob("packed_*.json"))
    if not paths:
        raise UsageError("no packed_*.json; run bench/packed.py first")
    rates, measured = load_packed(paths)
    missing = [k for k in KINDS if not any(k in r for r in rates.values())]
    if missing:
        raise UsageError(
            f"no measurement of {', '.join(missing)} in {', '.join(map(str, paths))}; "
            f"needed: {', '.join(KINDS)}"
        )
    specs = expand(*load_sweep(PAPER), where=str(PAPER))
    hours = grid_core_hours(rates, measured, specs)
    steps = {s.timesteps for s in specs}
    print(
        f"paper grid: {len(specs):,} trials x {', '.join(f'{n:,}' for n in steps)} steps; "
        f"packed rates from {', '.join(rates)}"
    )
    print("| trials as | reserved core-hours | on 100 cores (days) |\n|---|---:|---:|")
    for name, h in hours.items():
        print(f"| {name} | {h:,.0f} | {h / 100 / 24:,.1f} |")
    print(f"this project / SB3: {hours['this project'] / hours['SB3']:.3f}")
    return 0


if __name__ == "__main__":
    run_main(main, PROG)
