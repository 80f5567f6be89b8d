"""The Tune grid: every trial of a sweep YAML, with W&B, checkpoints and resume.

    python -m rbrl_ray.sweep --config tune_configs/smoke.yaml
    python -m rbrl_ray.sweep --config tune_configs/paper.yaml --dry-run
    ray job submit --address http://HEAD:8265 --working-dir . -- \
        python -m rbrl_ray.sweep --config tune_configs/paper.yaml --storage s3://bucket/rbrl
"""

from __future__ import annotations

import argparse
import functools
import os
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rbrl_ray.cli import OneLineParser, UsageError, int_in_range
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.ray_start import init_ray
from rbrl_ray.sweep.grid import SweepConfig, dedup_note, expand, load_sweep
from rbrl_ray.sweep.varied import describe
from rbrl_ray.wandb_auth import has_wandb_credentials

PROG = "rbrl_ray.sweep"
DEFAULT_STORAGE = Path("results") / "sweeps"
STORAGE_SCHEMES = ("local path", "file://", "s3://", "gs://")
WANDB_MODES = ("online", "offline", "disabled")


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, required=True, help="sweep YAML (tune_configs/)")
    p.add_argument("--dry-run", action="store_true", help="print the trial table and count only")
    p.add_argument(
        "--storage",
        default=str(DEFAULT_STORAGE),
        help="local dir, s3://… or gs://… (default: results/sweeps)",
    )
    p.add_argument("--name", help="experiment name (default: the YAML's name)")
    p.add_argument(
        "--resume", action="store_true", help="continue the interrupted experiment STORAGE/NAME"
    )
    p.add_argument("--max-concurrent", type=int_in_range("max-concurrent", 1))
    p.add_argument(
        "--wandb",
        choices=WANDB_MODES,
        help="default: online with W&B credentials (WANDB_API_KEY or `wandb login`), else offline",
    )
    p.add_argument("--wandb-project", help="default: the YAML's wandb_project")
    return p


def storage_uri(text: str) -> str:
    """An absolute local path or a cloud URI Tune can write to."""
    if "://" not in text:
        return str(Path(text).expanduser().resolve())
    scheme = text.split("://", 1)[0] + "://"
    if scheme not in STORAGE_SCHEMES:
        raise UsageError(
            f"unsupported --storage scheme {scheme!r}; allowed: {', '.join(STORAGE_SCHEMES)}"
        )
    return text


def wandb_mode(choice: str | None) -> str:
    has_key = has_wandb_credentials()
    if choice == "online" and not has_key:
        raise UsageError(
            "--wandb online needs W&B credentials (WANDB_API_KEY, or `wandb login`); "
            "use --wandb offline or disabled"
        )
    return choice or ("online" if has_key else "offline")


def trial_table(sweep: SweepConfig, specs: list[ExperimentSpec]) -> Table:
    counts = Counter((s.env, s.method) for s in specs)
    table = Table(title=f"sweep {sweep.name!r}: {len(specs):,} trials")
    for column in ("env", "method", "classes", "seeds", "trials", "env steps each"):
        table.add_column(column, justify="left" if column in ("env", "method") else "right")
    for (env, method), n in counts.items():
        classes = "all (ignored)" if method == "ppo" else ",".join(map(str, sweep.classes))
        table.add_row(
            env, method, classes, str(len(sweep.seed_list)), str(n), f"{sweep.timesteps:,}"
        )
    return table


def experiment_path(storage: str, name: str) -> str:
    """The run's folder in storage; a URI's query (an S3 endpoint_override, say) stays
    at its end."""
    base, query = storage.split("?", 1) if "?" in storage else (storage, "")
    return f"{base.rstrip('/')}/{name}" + (f"?{query}" if query else "")


def run(
    args: argparse.Namespace,
    sweep: SweepConfig,
    specs: list[ExperimentSpec],
    storage: str,
    mode: str,
    console: Console,
) -> int:
    os.environ["WANDB_MODE"] = mode
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic table shows our columns
    # Imported here, not at the top: bad input must fail in a second, before Ray and
    # RLlib are even imported (a dry run needs neither).
    from rbrl_ray.sweep.tune_logging import SpecWandbCallback
    from rbrl_ray.sweep.tuner import new_tuner, restored_tuner

    # Under `ray job submit` this attaches to the cluster (RAY_ADDRESS) and keeps the
    # job's runtime env; locally it starts Ray in-process.
    init_ray()
    name = args.name or sweep.name
    path = experiment_path(storage, name)
    if args.resume:
        tuner = restored_tuner(path)
    else:
        callbacks = []
        if mode != "disabled":
            project = args.wandb_project or sweep.wandb_project
            compared = [s.classes for s in specs if s.classes is not None]
            callbacks.append(
                SpecWandbCallback(project=project, mode=mode, compared_classes=compared)
            )
        tuner = new_tuner(
            specs,
            name=name,
            storage=storage,
            checkpoint_every=sweep.checkpoint_every,
            max_failures=sweep.max_failures,
            max_concurrent=args.max_concurrent,
            callbacks=callbacks,
            varied=list(sweep.varied),
        )
    results = tuner.fit()
    errors = [r for r in results if r.error is not None]
    # soft_wrap: paths and commands stay on one line, to be copied whole
    say = functools.partial(console.print, soft_wrap=True)
    say(f"{len(results) - len(errors)} of {len(results)} trials finished; results in {path}")
    say(
        "  per trial: result.json and progress.csv (every metric), checkpoint_*/, ratings/, "
        "TensorBoard events" + (", wandb/" if mode != "disabled" else "")
    )
    if mode == "offline":
        say(f"  upload the W&B runs later with: wandb sync {path}/*/wandb/offline-run-*")
    if "://" in path:
        say(f"  tables and figures: python -m rbrl_ray.report {path}")
    elif len(errors) < len(results):
        try:
            show_outcome(Path(path), say)
        except Exception as err:  # the results are safe on disk; say so, do not fail the run
            say(f"[red]could not build the report[/] ({type(err).__name__}: {err}); "
                f"retry with: python -m rbrl_ray.report {path}")  # fmt: skip
    if errors:
        console.print(f"[red]{len(errors)} trials errored[/]; continue with --resume")
    return 1 if errors else 0


def show_outcome(path: Path, say: functools.partial) -> None:
    """The per-method table and the curves of a finished local sweep (its report)."""
    from rbrl_ray.report.writer import write_report

    report = write_report(path, path / "report")
    columns = ["env", "classes", "method", "eval_mean", "eval_se", "return_mean", "seeds"]
    say("\nfinal true return per method (eval: the frozen policy; return: training):")
    say(report["summary"][columns].round(1).to_string(index=False))
    curves = [name for name in report["figures"] if name.startswith("curves_")]
    say(f"learning curves: {', '.join(str(path / 'report' / name) for name in curves)}")
    say(f"every table and figure: {path / 'report' / 'report.md'}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sweep, env_settings = load_sweep(args.config)
    specs = expand(sweep, env_settings, str(args.config))
    storage = storage_uri(args.storage)
    mode = wandb_mode(args.wandb)
    console = Console(width=max(100, Console().width))
    if args.resume:
        from ray.tune import Tuner

        path = experiment_path(storage, args.name or sweep.name)
        if "://" not in path and not Tuner.can_restore(path):
            raise UsageError(f"--resume: no experiment to resume at {path!r}")
    console.print(trial_table(sweep, specs))
    if sweep.varied:
        settings = describe(sweep.varied)
        console.print(f"varied settings (every combination, in each cell above): {settings}")
    note = dedup_note(sweep, len(specs))
    if note:
        console.print(note)
    if args.dry_run:
        console.print(f"dry run: {len(specs):,} trials, nothing started")
        return 0
    from rbrl_ray.human import gl_backend
    from rbrl_ray.reward import device

    gl_backend.check_before_ray(any(spec.rater == "human" for spec in specs))
    device.check_before_ray(specs)
    return run(args, sweep, specs, storage, mode, console)
