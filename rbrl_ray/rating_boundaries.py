"""Rating boundaries per env: the synthetic rater's range from what true-reward PPO visits.

    python -m rbrl_ray.rating_boundaries --env walker-walk
    python -m rbrl_ray.rating_boundaries --env finger-spin --seed 1 --quantile 0.1
    python -m rbrl_ray.rating_boundaries --env finger-spin \
        --pilot results/sweeps/campaign/run-1/finger-spin_ours_c3_s0_<id>/ratings

The paper defines "the reward boundaries for each environment" by hand and says no
more. This is the rule used here, the same for every env, so anyone can rerun it:

1. Train PPO on the env reward (the paper preset, one seed) through the rating
   phase of the paper's schedule: queries at 32k, 52k, ..., 212k env steps.
2. At each query step, take `per_query` segments uniformly from the 50-step
   segments cut from that iteration's training rollouts (what a rater would be
   shown, had the agent been this PPO).
3. The rating range [low, high] is the [q, 1 - q] quantile range of those
   segments' true returns (q = 0.1 by default). The rater's equal-width bins
   over it then give the lowest and the highest class each at least a fraction q
   of these segments (everything beyond the range joins the edge classes).
   Where at least a fraction q of the segments sit at the lowest return (a
   sparse reward: ball_in_cup scores 0 until the ball is caught), the lowest
   class holds them under any range, and the quantiles are taken over the
   returns above that floor, so the other classes split what is left.

4. Stage 2, only where a real `ours` run at the stage-1 range (the campaign's
   tier H or B, seed 0) starves a class of the three (< 2 % of its 2,000
   ratings): the same quantile rule over the true returns of the segments that
   run's rater was shown (`--pilot RATINGS_DIR`). An agent of the method can be
   far from true-reward PPO while it is rated: on cheetah-run PPO's range gave a
   real `ours` run 95.85 / 4.05 / 0.1 % (its 50-step returns stay under 2.6 where
   PPO's reach 9.9). The record keeps both stages.

Why a range from the visited returns: the default [0, 50] starves classes where
early returns are small (finger-spin 0, walker 1-8.5 per 50 steps: everything
is class 0 and the model learns a constant); a range too wide the other way
starves the top class (nothing visited early reaches it). A range too narrow
would make nearly every segment an edge class and the middle classes rare.

The rule looks at the rating phase only. What it cannot see: a range fitted there
tops out where the agent was, and a learned reward cannot rank the segments above it
(all top class), so it saturates once the agent gets there (cheetah-run in campaign
v2). The page gives that headroom: the share of the last query's segments already
above the range's top.

Writes results/rating_boundaries/rating_boundaries_<env>.{json,md,png}: the returns, the
range, the class histogram of those segments for n = 2..6, and the headroom. The range goes
into tune_configs/envs.yaml by hand, with the record named beside it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rbrl_ray.cli import OneLineParser, UsageError, float_in_range, int_in_range, run_main
from rbrl_ray.envs import TASK_NAMES, get_task
from rbrl_ray.experiment import RatingSchedule
from rbrl_ray.feedback.rater import RaterConfig, SyntheticRater
from rbrl_ray.feedback.segments import SEGMENT_LENGTH
from rbrl_ray.jsonio import write_json
from rbrl_ray.provenance import provenance
from rbrl_ray.ray_start import init_ray
from rbrl_ray.validation import MIN_CLASSES

PROG = "python -m rbrl_ray.rating_boundaries"
SHOWN_CLASSES = range(MIN_CLASSES, 7)  # the paper's 2..6


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--env", required=True, help=f"one of: {', '.join(TASK_NAMES)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--quantile",
        type=float_in_range("quantile", 0.0, 0.5),
        default=0.1,
        help="q: the range is the [q, 1 - q] quantiles of the visited returns (default 0.1)",
    )
    p.add_argument("--per-query", type=int_in_range("per-query", 1), default=200)
    p.add_argument(
        "--recompute",
        action="store_true",
        help="no training: the range and shares again from the record's returns (a new --quantile)",
    )
    p.add_argument(
        "--pilot",
        type=Path,
        help="stage 2: the ratings folder of a real trial of the env at the stage-1 range; "
        "the range from the returns of the segments its rater was shown",
    )
    p.add_argument("--out", type=Path, default=Path("results/rating_boundaries"))
    return p


def visited_returns(env: str, seed: int, schedule: RatingSchedule) -> list[np.ndarray]:
    """Per query of `schedule`: the true returns of `per_query` segments of the
    training rollouts of true-reward PPO at that query's step."""
    import ray

    from rbrl_ray import metric_names as m
    from rbrl_ray.experiment import ExperimentSpec
    from rbrl_ray.rllib.ppo import RatingPPOConfig
    from rbrl_ray.rllib.segment_returns import SegmentReturns, take_returns

    last = schedule.query_step(schedule.queries - 1)
    spec = ExperimentSpec(
        env=env, method="ppo", seed=seed, timesteps=last + 1, evaluation={"episodes": 0}
    )
    init_ray(include_dashboard=False, log_to_driver=False)
    config = RatingPPOConfig.from_spec(spec, rating_dir=Path(tempfile.mkdtemp()))
    algo = config.callbacks(SegmentReturns).build_algo()
    rng = np.random.default_rng(seed)
    queries: list[np.ndarray] = []
    try:
        while len(queries) < schedule.queries:
            result = algo.train()
            steps = int(m.under_env_runners(result, m.STEPS_KEY))
            returns = take_returns(algo)
            while len(queries) < schedule.queries and steps >= schedule.query_step(len(queries)):
                picked = rng.choice(len(returns), min(schedule.per_query, len(returns)), False)
                queries.append(returns[picked])
                print(
                    f"query {len(queries):>2} at {steps:>8,} steps: segment returns "
                    f"{np.percentile(returns, [10, 50, 90]).round(2)} (p10, p50, p90)",
                    flush=True,
                )
    finally:
        algo.stop()
        ray.shutdown()
    return queries


def rated_returns(ratings: Path) -> list[np.ndarray]:
    """Per query: the true returns of the segments a trial's rater was shown (the
    trial's current ratings, its newest lineage)."""
    from rbrl_ray.feedback.store import RatedStore, lineages

    found = lineages(ratings)
    if not found:
        raise UsageError(f"--pilot: no rated store under {str(ratings)!r}; pass a trial's ratings/")
    files = RatedStore(found[-1]).files()
    returns = np.concatenate([f.segments.true_rewards.sum(axis=1) for f in files])
    queries = np.concatenate([f.queries for f in files])
    return [returns[queries == q] for q in np.unique(queries)]


def rating_range(returns: np.ndarray, q: float) -> tuple[float, float]:
    """[low, high]: the [q, 1 - q] quantiles, over the returns above the floor where the
    lowest return holds at least a fraction q of them (see the module docstring)."""
    floor = returns.min()
    above = returns[returns > floor]
    if np.mean(returns == floor) >= q and len(above) >= 2:
        returns = above
    low, high = (float(v) for v in np.quantile(returns, [q, 1 - q]))
    return low, high if high > low else low + 1e-3  # one value only: no range to split


def histograms(returns: np.ndarray, low: float, high: float) -> dict[int, list[float]]:
    """Per class count: the fraction of `returns` in each class of the rater."""
    out = {}
    for n in SHOWN_CLASSES:
        classes = SyntheticRater(RaterConfig(n_classes=n, low=low, high=high)).exact_classes(
            returns
        )
        out[n] = (np.bincount(classes, minlength=n) / len(returns)).round(4).tolist()
    return out


def above_range(record: dict[str, Any]) -> dict[str, float]:
    """Headroom: the share of the last query's segments above the range's top, for
    true-reward PPO (the stage-1 returns) and, at stage 2, the pilot. A segment above the
    range is top class whatever its return, so where this share is large a learned
    reward cannot rank what the agent does next and saturates once it gets there (it
    did on cheetah-run in campaign v2: results/campaign_v2/ANALYSIS.md)."""
    high = record["rating_range"][1]
    stage1 = record.get("stage1", record)
    shares = {"ppo": float(np.mean(np.asarray(stage1["returns_per_query"][-1]) > high))}
    if "stage1" in record:
        shares["pilot"] = float(np.mean(np.asarray(record["returns_per_query"][-1]) > high))
    return {k: round(v, 4) for k, v in shares.items()}


def markdown(record: dict[str, Any]) -> str:
    low, high = record["rating_range"]
    stage1 = record.get("stage1")
    if stage1 is None:
        source = (
            f"**{record['env']}**, seed {record['seed']}: {record['segments']:,} segments of "
            f"true-reward PPO at the {len(record['query_steps'])} query steps "
            f"({record['query_steps'][0]:,} .. {record['query_steps'][-1]:,})"
        )
    else:
        source = (
            f"**{record['env']}**, stage 2: the {record['segments']:,} segments rated in the "
            f"pilot trial `{record['pilot']}` (run at the range {record['pilot_range']}, "
            "which gave its ratings "
            + " / ".join(f"{100 * s:.1f} %" for s in record["pilot_histogram"])
            + "; stage 1, from true-reward PPO: "
            + " / ".join(f"{100 * s:.1f} %" for s in stage1["histograms"]["3"])
            + " of PPO's segments)"
        )
    lines = [
        source,
        "",
        f"rating range [q{record['quantile']:g}, q{1 - record['quantile']:g}] = "
        f"[{low:.2f}, {high:.2f}]"
        + (
            " (of the returns above the floor: a sparse reward)"
            if record.get("above_floor")
            else ""
        ),
        "",
        "| classes | share of each class (low to high) |",
        "|---:|---|",
    ]
    for n, shares in record["histograms"].items():
        lines.append(f"| {n} | " + " / ".join(f"{100 * s:.1f} %" for s in shares) + " |")
    above = above_range(record)
    whose = f"{100 * above['ppo']:.1f} % of true-reward PPO's segments" + (
        f", {100 * above['pilot']:.1f} % of the pilot's" if "pilot" in above else ""
    )
    lines += [
        "",
        f"Above the range's top at the last query step ({record['query_steps'][-1]:,}): "
        f"{whose}; the top, {high:.2f}, is {high / SEGMENT_LENGTH:.0%} of the most a "
        f"{SEGMENT_LENGTH}-step segment can score. Every segment above the range is top "
        "class, so a learned reward cannot rank them: where this share is large and the "
        "top well below the most, the reward saturates once the agent gets there, and "
        "asks for no more.",
    ]
    return "\n".join(lines)


def figure(record: dict[str, Any], returns: np.ndarray, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    low, high = record["rating_range"]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.hist(returns, bins=60, color="tab:gray")
    for edge in np.linspace(low, high, 4):
        ax.axvline(edge, color="tab:red", linestyle="--", linewidth=1)
    ax.set_xlabel("true return of a 50-step segment")
    ax.set_ylabel("segments")
    ax.set_title(f"{record['env']}: visited segment returns, 3-class edges (red)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def pilot_stage(
    ratings: Path, shown: np.ndarray, previous: dict[str, Any] | None, path: Path
) -> dict[str, Any]:
    """Stage 2's provenance: the pilot trial, the class shares of the returns `shown` to
    its rater at the range it ran at, and stage 1's record."""
    if previous is None:
        raise UsageError(f"--pilot: no stage-1 record {str(path)!r}; run without --pilot first")
    stage1 = previous.get("stage1", previous)  # a second pilot keeps the PPO stage
    low, high = previous["rating_range"]  # the range the pilot ran at: envs.yaml's until now
    return {
        "stage1": {k: v for k, v in stage1.items() if k != "machine"},
        "pilot": ratings.resolve().parent.name,
        "pilot_range": [low, high],
        "pilot_histogram": histograms(shown, low, high)[3],
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    get_task(args.env)  # one line naming the allowed envs
    schedule = RatingSchedule(per_query=args.per_query)
    path = args.out / f"rating_boundaries_{args.env}.json"
    previous = json.loads(path.read_text()) if path.is_file() else None
    stages: dict[str, Any] = {}
    if args.recompute:
        if previous is None:
            raise UsageError(f"--recompute: no record {str(path)!r}; run without it first")
        queries = [np.asarray(q) for q in previous["returns_per_query"]]
        kept = ("stage1", "pilot", "pilot_range", "pilot_histogram")
        stages = {k: previous[k] for k in kept if k in previous}
    elif args.pilot is not None:
        queries = rated_returns(args.pilot)
        stages = pilot_stage(args.pilot, np.concatenate(queries), previous, path)
    else:
        queries = visited_returns(args.env, args.seed, schedule)
    returns = np.concatenate(queries)
    low, high = rating_range(returns, args.quantile)
    record = {
        "env": args.env,
        "seed": args.seed,
        "quantile": args.quantile,
        "query_steps": [schedule.query_step(i) for i in range(schedule.queries)],
        "segments": len(returns),
        "rating_range": [round(low, 3), round(high, 3)],
        "above_floor": bool(np.mean(returns == returns.min()) >= args.quantile),
        "percentiles": {
            str(q): float(np.percentile(returns, q)) for q in (0, 5, 10, 25, 50, 75, 90, 95, 100)
        },
        "histograms": histograms(returns, low, high),
        "returns_per_query": [q.round(4).tolist() for q in queries],
        **stages,
        "machine": provenance(),  # where and with what code this record was made
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(path, record, indent=1)
    text = markdown(record)
    path.with_suffix(".md").write_text(text + "\n")
    figure(record, returns, path.with_suffix(".png"))
    print("\n" + text)
    print(f"\nenvs.yaml: {args.env}: {{rating_range: {record['rating_range']}}}")
    print(f"written: {path}, .md and .png")
    return 0


if __name__ == "__main__":
    run_main(main, PROG)
