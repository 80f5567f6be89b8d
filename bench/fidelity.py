"""Reward-model fidelity on all six envs, from segments of PPO policy snapshots.

    pip install -e ".[bench]"
    python -m bench.fidelity [--envs all] [--classes 3] [--ratings 1000] [--heldout 500]

For each env: a PPO run on the env reward (the `small` preset, --ppo-steps env
steps) is sampled at --stages evenly spaced snapshots, untrained first, for a
pool of 50-step segments. The synthetic rater's bins span the pool's range of
segment returns, [min, max]: with the paper's fixed [0, 50] range a modest PPO
budget leaves cheetah-run and walker-walk in the lowest class. The pool is split
at random into rated and held-out segments; every reward method is fitted on the
rated ones and scored on the held-out ones (Pearson and Spearman of predicted vs
true segment return, accuracy against the exact classes). Writes
bench/results/fidelity.{json,md,png}, updating the json after every env.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe_machine
from bench.records import move_aside
from rbrl_ray.cli import (
    CLASSES_HELP,
    OneLineParser,
    choice_list,
    class_count,
    int_in_range,
    run_main,
)
from rbrl_ray.envs import TASK_NAMES, get_task
from rbrl_ray.feedback.rater import RaterConfig, SyntheticRater
from rbrl_ray.jsonio import write_json
from rbrl_ray.methods import REWARD_METHODS
from rbrl_ray.reward_bench.cli import fit_method, histogram

PROG = "python -m bench.fidelity"
HERE = Path(__file__).resolve().parent
COLUMNS = ("pearson", "spearman", "accuracy")


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--envs", default="all", help=f"'all' or comma-separated: {TASK_NAMES}")
    p.add_argument("--classes", type=class_count, default=3, help=CLASSES_HELP)
    p.add_argument("--ratings", type=int_in_range("ratings", 2), default=1000)
    p.add_argument("--heldout", type=int_in_range("heldout", 2), default=500)
    p.add_argument("--ppo-steps", type=int_in_range("ppo-steps", 0), default=60_000)
    p.add_argument("--stages", type=int_in_range("stages", 2), default=4)
    p.add_argument("--max-epochs", type=int_in_range("max-epochs", 1), default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=HERE / "results")
    return p


def parse_envs(text: str) -> list[str]:
    envs = choice_list(text, ("all", *TASK_NAMES), "env", "--envs")
    return list(TASK_NAMES) if "all" in envs else envs


def bench_env(env: str, args: Any) -> dict[str, Any]:
    # RLlib loads here, not at import: bad arguments are answered in a second
    from bench.policy_snapshots import snapshot_segments

    task = get_task(env)
    total = args.ratings + args.heldout
    per_stage = -(-total // args.stages)

    def on_stage(stage: int, steps: int, mean_return: float) -> None:
        print(
            f"  snapshot {stage + 1}/{args.stages} at {steps:,} PPO steps: "
            f"mean segment return {mean_return:.2f}",
            flush=True,
        )

    pool, stage_of = snapshot_segments(
        env, args.ppo_steps, args.stages, per_stage, args.seed, on_stage=on_stage
    )
    returns = pool.true_returns
    low, high = float(returns.min()), float(returns.max())
    rater = SyntheticRater(RaterConfig(n_classes=args.classes, low=low, high=high + 1e-6))
    order = np.random.default_rng(args.seed).permutation(len(pool))
    rated_idx, heldout_idx = order[: args.ratings], order[args.ratings : total]
    data = {
        "train": pool.take(rated_idx),
        "train_labels": rater.exact_classes(returns[rated_idx]),
        "heldout": pool.take(heldout_idx),
        "heldout_labels": rater.exact_classes(returns[heldout_idx]),
    }
    n = args.classes
    out = {
        "rating_range": [low, high],
        "stage_mean_returns": [float(returns[stage_of == s].mean()) for s in range(args.stages)],
        "rated_histogram": histogram(data["train_labels"], n),
        "heldout_histogram": histogram(data["heldout_labels"], n),
    }
    print(
        f"  range [{low:.2f}, {high:.2f}], rated {out['rated_histogram']}, "
        f"held-out {out['heldout_histogram']}",
        flush=True,
    )
    covered = sum(1 for c in out["rated_histogram"] if c > 0)
    if covered < min(3, n):
        print(
            f"  warning: the rated segments cover {covered} of {n} classes; a longer PPO "
            "run (--ppo-steps) gives the pool more varied behaviour",
            flush=True,
        )
    fit = dict(classes=n, max_epochs=args.max_epochs, seed=args.seed)
    out["methods"] = {m: fit_method(m, data, task, **fit) for m in REWARD_METHODS}
    return out


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| env | rating range | rated / held-out classes | method | Pearson | Spearman | acc |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for env, r in results.items():
        low, high = r["rating_range"]
        for i, (method, m) in enumerate(r["methods"].items()):
            head = (
                f"{env} | [{low:.1f}, {high:.1f}] | {r['rated_histogram']} / "
                f"{r['heldout_histogram']}"
                if i == 0
                else " | | "
            )
            lines.append(
                f"| {head} | {method} | {_cell(m['pearson'])} | {_cell(m['spearman'])} | "
                f"{_cell(m['accuracy'])} |"
            )
    return "\n".join(lines)


def figure(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(results)
    fig, axes = plt.subplots(1, len(COLUMNS), figsize=(5 * len(COLUMNS), 4.5), sharey=True)
    width = 0.8 / len(REWARD_METHODS)
    for ax, metric in zip(axes, COLUMNS, strict=True):
        for j, method in enumerate(REWARD_METHODS):
            values = [results[e]["methods"][method][metric] or 0.0 for e in envs]
            ax.bar(np.arange(len(envs)) + j * width, values, width, label=method)
        ax.set_xticks(np.arange(len(envs)) + 0.4 - width / 2, envs, rotation=30, ha="right")
        ax.set_title(f"held-out {metric}")
        ax.set_ylim(0, 1)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(REWARD_METHODS), fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    envs = parse_envs(args.envs)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "fidelity.json"
    if path.exists():  # an earlier run's results are kept, never overwritten
        move_aside(path, "holds an earlier run")
    record: dict[str, Any] = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": describe_machine(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "envs": {},
    }
    for i, env in enumerate(envs):
        print(f"[{i + 1}/{len(envs)}] {env}", flush=True)
        start = time.perf_counter()
        record["envs"][env] = bench_env(env, args)
        record["envs"][env]["seconds"] = round(time.perf_counter() - start, 1)
        write_json(path, record)
    table = markdown(record["envs"])
    path.with_suffix(".md").write_text(table + "\n")
    figure(record["envs"], path.with_suffix(".png"))
    print(
        "\n" + table + f"\n\nwritten: {path}, {path.with_suffix('.md')}, {path.with_suffix('.png')}"
    )
    return 0


if __name__ == "__main__":
    run_main(main, PROG)
