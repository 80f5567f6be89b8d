"""Each cell both campaigns ran, from the first campaign to the second, as ANALYSIS.md's
"From v1 to v2" table shows it.

    python scripts/shift_table.py results/campaign results/campaign_v2 [--seeds 0,1,2]
        [--envs cartpole-balance,cheetah-run,walker-walk]

Reads both campaigns' committed records (trials/*.json) and prints one markdown row
per (env, method) at the first campaign's class count: the first campaign's final
measure (RESULTS.md's: the mean evaluation over the last 20 % of a run) with its
training return at its last iteration in brackets, the second campaign's training
return at the first campaign's length (the iteration whose samples first reach it),
and the second campaign's final measure. Means over each campaign's seeds (or only
`--seeds`), over every env both ran (or only `--envs`); the seed counts close the table.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import mean

from rbrl_ray.report.results import final_measure
from rbrl_ray.report.trials import Trial, load_trials

CLASSES = 3  # the class count both campaigns ran every method at


def cells(trials: list[Trial], seeds: set[int] | None) -> dict[tuple[str, str], list[Trial]]:
    """The finished trials per (env, method), `ppo` at any class count, the rest at CLASSES."""
    out: dict[tuple[str, str], list[Trial]] = {}
    for t in trials:
        if not t.finished or (seeds is not None and t.spec.seed not in seeds):
            continue
        if t.spec.learns_reward and t.spec.classes != CLASSES:
            continue
        out.setdefault((t.spec.env, t.spec.method), []).append(t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path, help="the earlier campaign's records")
    parser.add_argument("second", type=Path, help="the later campaign's records")
    parser.add_argument("--seeds", help="only these seeds of the second campaign: 0,1,2")
    parser.add_argument("--envs", help="only these envs: cartpole-balance,walker-walk")
    args = parser.parse_args()
    seeds = None if args.seeds is None else {int(s) for s in args.seeds.split(",")}
    envs = None if args.envs is None else set(args.envs.split(","))
    first = cells(load_trials(args.first).trials, None)
    second = cells(load_trials(args.second).trials, seeds)
    length = max(t.steps for ts in first.values() for t in ts)
    print(
        f"| env | method | v1 at {length // 1000}k | v2 training return at "
        f"{length // 1000}k (v1's) | v2 at 1M |"
    )
    print("|---|---|---:|---:|---:|")
    methods = ("ppo", "rbrl", "ours")
    shared = sorted(
        (k for k in first if k in second and k[1] in methods and (envs is None or k[0] in envs)),
        key=lambda k: (k[0], methods.index(k[1])),
    )
    for env, method in shared:
        old, new = first[env, method], second[env, method]
        print(
            f"| {env} | {method} | {mean(final_measure(t) for t in old):.1f} "
            f"({mean(t.final_return for t in old):.1f}) "
            f"| {mean(t.at('true_return', length) for t in new):.1f} "
            f"| {mean(final_measure(t) for t in new):.1f} |"
        )
    counts = ", ".join(
        f"{env} {method} {len(first[env, method])}/{len(second[env, method])}"
        for env, method in shared
    )
    print(f"\n(seeds, v1/v2: {counts})")


if __name__ == "__main__":
    main()
