"""One trial without Tune: train PPO on one method, print progress, checkpoint, summarise.

    python -m rbrl_ray.train --env cartpole-balance --method ours --classes 3 --seed 0 \
        --timesteps 100000 --out DIR
    python -m rbrl_ray.train --resume DIR [--timesteps MORE]

DIR receives spec.json, checkpoint/, ratings/, progress.csv (a row per iteration; rows a
killed run made after its last checkpoint move to progress.abandoned.csv on --resume) and
summary.json (the trial's summary).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rbrl_ray import checkpoints, progress
from rbrl_ray import metric_names as m
from rbrl_ray.cli import (
    CLASSES_HELP,
    OneLineParser,
    UsageError,
    add_noise_argument,
    int_in_range,
    run_main,
)
from rbrl_ray.envs import TASK_NAMES
from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec
from rbrl_ray.feedback.rater import parse_noise
from rbrl_ray.jsonio import DamagedFile, read_json
from rbrl_ray.methods import ALL_METHODS
from rbrl_ray.ray_start import init_ray
from rbrl_ray.trial_summary import SUMMARY_FILE, curve_point, result_summary, write_summary
from rbrl_ray.validation import error_line

PROG = "rbrl_ray.train"
SPEC_FILE = "spec.json"
CHECKPOINT_DIR = checkpoints.CHECKPOINT_DIR
SPEC_ADVICE = "restore it from a backup, or start a new trial with the same flags"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--env", help=f"one of: {', '.join(TASK_NAMES)}")
    p.add_argument("--method", help=f"one of: {', '.join(ALL_METHODS)}")
    p.add_argument(
        "--classes",
        type=int,
        help=f"{CLASSES_HELP} (reward methods only)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timesteps", type=int_in_range("timesteps", 1), help="total env steps")
    p.add_argument("--out", type=Path, help="trial directory")
    p.add_argument("--resume", type=Path, metavar="DIR", help="continue the trial in DIR")
    p.add_argument(
        "--preset",
        choices=sorted(PPO_PRESETS),
        default="paper",
        help="PPO hyperparameters: paper (default) or small (tests, laptops)",
    )
    add_noise_argument(p)
    p.add_argument("--explore-steps", type=int_in_range("explore-steps", 0))
    p.add_argument("--query-every", type=int_in_range("query-every", 1))
    p.add_argument("--per-query", type=int_in_range("per-query", 1))
    p.add_argument("--total-ratings", type=int_in_range("total-ratings", 1))
    p.add_argument("--selection", choices=("uniform", "disagreement"))
    p.add_argument("--env-runners", type=int_in_range("env-runners", 0))
    p.add_argument("--envs-per-runner", type=int_in_range("envs-per-runner", 1))
    p.add_argument(
        "--learner-gpus",
        type=float,
        help="GPUs for the learner (default 0: CPU); needs a CUDA device visible to torch",
    )
    p.add_argument(
        "--eval-every",
        type=int_in_range("eval-every", 0),
        help="iterations between evaluations of the frozen policy (default 5; 0: at the end)",
    )
    p.add_argument(
        "--eval-episodes",
        type=int_in_range("eval-episodes", 0),
        help="episodes per evaluation (default 8; 0: no evaluation)",
    )
    p.add_argument(
        "--reward-device",
        choices=("cpu", "auto", "cuda"),
        default="cpu",
        help="where the reward model's fits run (cuda: the rating service takes this "
        "machine's GPU)",
    )
    p.add_argument(
        "--rater",
        choices=("synthetic", "human"),
        default="synthetic",
        help="human: a person rates the queries on the rating page (its URL is printed)",
    )
    p.add_argument(
        "--rating-port",
        type=int_in_range("rating-port", 0, 65535),
        default=8765,
        help="port of the rating page on 127.0.0.1 (with --rater human; 0: any free port)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int_in_range("checkpoint-every", 1),
        default=10,
        help="iterations between checkpoints (one is always written at the end)",
    )
    return p


def spec_from_args(args: argparse.Namespace) -> ExperimentSpec:
    """Validate the flags into a spec; every error is one UsageError line."""
    for flag in ("env", "method", "timesteps", "out"):
        if getattr(args, flag) is None:
            raise UsageError(f"--{flag} is required (or --resume DIR)")
    if args.method == "ppo" and args.classes is not None:
        print(
            f"{PROG}: note: method 'ppo' trains on the env reward and ignores --classes",
            file=sys.stderr,
        )
        args.classes = None
    schedule = {
        k: v
        for k, v in {
            "explore_steps": args.explore_steps,
            "every": args.query_every,
            "per_query": args.per_query,
            "total": args.total_ratings,
            "selection": args.selection,
        }.items()
        if v is not None
    }
    evaluation = {
        k: v
        for k, v in {"every": args.eval_every, "episodes": args.eval_episodes}.items()
        if v is not None
    }
    ppo = PPO_PRESETS[args.preset].model_dump()
    if args.env_runners is not None:
        ppo["num_env_runners"] = args.env_runners
    if args.envs_per_runner is not None:
        ppo["envs_per_runner"] = args.envs_per_runner
    if args.learner_gpus is not None:
        ppo["num_gpus_per_learner"] = learner_gpus(args.learner_gpus)
    reward_model = {"device": args.reward_device}
    service_gpus = 1.0 if args.reward_device == "cuda" else 0.0  # the local GPU, whole
    try:
        noise = parse_noise(args.noise)
        return ExperimentSpec(
            env=args.env,
            method=args.method,
            classes=args.classes,
            seed=args.seed,
            timesteps=args.timesteps,
            schedule=schedule,
            noise=noise,
            ppo=ppo,
            evaluation=evaluation,
            rater=args.rater,
            rating_page={"port": args.rating_port},
            reward_model=reward_model,
            service_gpus=service_gpus,
        )
    except (ValidationError, ValueError) as err:
        raise UsageError(error_line(err)) from None


def learner_gpus(count: float) -> float:
    """--learner-gpus, checked against this machine: a local trial cannot wait for a GPU."""
    import torch

    if count < 0:
        raise UsageError(f"--learner-gpus must be ≥ 0, got {count:g}")
    if count > 0 and not torch.cuda.is_available():
        raise UsageError(
            f"--learner-gpus {count:g}: torch sees no CUDA device here; allowed on this machine: 0"
        )
    return count


def load_resume(args: argparse.Namespace) -> tuple[ExperimentSpec, Path]:
    out = args.resume
    spec_path, checkpoint = out / SPEC_FILE, out / CHECKPOINT_DIR
    done = checkpoints.finish_interrupted_save(out) if out.is_dir() else None
    if done:
        print(f"{PROG}: note: {done}", file=sys.stderr)
    if not spec_path.is_file():
        raise UsageError(f"no trial to resume in {str(out)!r}: it needs {SPEC_FILE}")
    try:
        spec = ExperimentSpec.from_stored(read_json(spec_path, "trial spec", SPEC_ADVICE))
    except ValidationError as err:
        raise DamagedFile(spec_path, "trial spec", error_line(err), SPEC_ADVICE) from None
    if checkpoint.is_dir():
        checkpoints.check(checkpoint, spec.learns_reward)
    else:  # killed before its first checkpoint: the policy starts over, the ratings stay
        print(
            f"{PROG}: note: {out} has no checkpoint yet; training starts over from "
            f"{SPEC_FILE} and uses again the ratings in {out / 'ratings'}",
            file=sys.stderr,
        )
    if args.timesteps is not None:
        spec = spec.model_copy(update={"timesteps": args.timesteps})
    return spec, out


# -- training loop ----------------------------------------------------------------


def summary_line(result: dict[str, Any], elapsed: float, steps_here: int) -> str:
    parts = [
        f"iter {result[m.ITERATION]:>4}",
        f"steps {int(m.under_env_runners(result, m.STEPS_KEY, 0)):>9,}",
        f"true return {m.under_env_runners(result, m.RETURN_KEY, math.nan):7.1f}",
    ]
    evaluated = m.evaluation_return(result)
    if evaluated is not None:
        parts.append(f"eval {evaluated:7.1f}")
    if m.NUM_RATINGS in result:
        parts.append(f"ratings {result[m.NUM_RATINGS]:>5}")
        parts.append(f"rm acc {result.get(m.RM_ACCURACY, math.nan):5.3f}")
        parts.append(f"r̂~r {result.get(m.PEARSON_TRUE, math.nan):+5.2f}")
    if m.TRAIN_REWARD_MEAN in result:  # near +1 with a small spread: a saturated reward
        mean, std = result[m.TRAIN_REWARD_MEAN], result.get(m.TRAIN_REWARD_STD, math.nan)
        parts.append(f"trained on {mean:+5.2f} ± {std:4.2f}")
    if result.get(m.SERVICE_RESTARTS):
        parts.append(f"service restarts {result[m.SERVICE_RESTARTS]}")
    parts.append(f"{steps_here / max(elapsed, 1e-9):6.0f} steps/s")
    return " | ".join(parts)


def train(spec: ExperimentSpec, out: Path, resume: bool, checkpoint_every: int) -> dict[str, Any]:
    from rbrl_ray.rllib.ppo import RatingPPOConfig

    init_ray(include_dashboard=False)
    config = RatingPPOConfig.from_spec(spec, rating_dir=(out / "ratings").resolve())
    algo = config.build_algo()
    if resume and (out / CHECKPOINT_DIR).is_dir():
        # state only, into the algorithm built from the spec (as Tune restores a trial):
        # RatingPPO.from_checkpoint would unpickle every class by the module path it
        # had when the checkpoint was written
        algo.restore_from_path(str((out / CHECKPOINT_DIR).resolve()))
    (out / SPEC_FILE).write_text(spec.model_dump_json(indent=2))
    progress_path = out / progress.PROGRESS_FILE
    curve = progress.resume(out, algo.iteration) if resume else []
    start, first_steps, result = time.perf_counter(), None, {}
    try:
        while True:
            result = algo.train()
            steps = int(m.under_env_runners(result, m.STEPS_KEY))
            if first_steps is None:
                first_steps = steps - int(m.under_env_runners(result, m.STEPS_THIS_ITER_KEY, 0))
            elapsed = time.perf_counter() - start
            print(summary_line(result, elapsed, steps - first_steps), flush=True)
            point = curve_point(result)
            curve.append(point)
            progress.append(progress_path, result, point)
            done = steps >= spec.timesteps
            if done or result[m.ITERATION] % checkpoint_every == 0:
                checkpoints.save(algo, out)
            if done:
                break
        steps_per_s = (steps - first_steps) / (time.perf_counter() - start)
        summary = result_summary(spec, result, steps_per_s, curve)
        write_summary(out, summary)
        return summary
    finally:
        algo.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.resume is not None:
        spec, out = load_resume(args)
    else:
        spec, out = spec_from_args(args), args.out
        if (out / CHECKPOINT_DIR).exists() or (out / SPEC_FILE).exists():
            raise UsageError(
                f"{str(out)!r} already holds a trial; use --resume {out} or another --out"
            )
    from rbrl_ray.human import gl_backend
    from rbrl_ray.reward import device

    gl_backend.check_before_ray(spec.rater == "human")
    device.check_before_ray([spec])
    out.mkdir(parents=True, exist_ok=True)
    summary = train(
        spec, out, resume=args.resume is not None, checkpoint_every=args.checkpoint_every
    )
    rm = summary["reward_model"]
    print(
        f"done: {summary['timesteps_total']:,} steps, true return {summary['true_return_mean']}, "
        f"evaluation return {summary['eval_return_mean']}, "
        f"ratings {summary['ratings']}, rm accuracy {rm['accuracy']}, pearson_true "
        f"{rm['pearson_true']}, {summary['env_steps_per_s']} env steps/s -> {out / SUMMARY_FILE}"
    )
    return 0


if __name__ == "__main__":
    run_main(main, PROG)
