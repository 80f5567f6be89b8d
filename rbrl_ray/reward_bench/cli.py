"""Offline reward-fidelity benchmark: no RL, only the paper's reward-learning question.

    python -m rbrl_ray.reward_bench --env cartpole-balance --classes 3 --ratings 2000 \
        --seed 0 --json OUT.json

Collects segments from a spread of scripted behaviours, rates them with the
synthetic rater, fits every reward-model method on the same ratings and reports
held-out rating accuracy and the correlation of predicted with true return.
With --rated-store, the ratings are a person's (a store written by
`python -m rbrl_ray.rate`) instead, and the report adds how often the person
agreed with the synthetic rater's bins.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from rbrl_ray.cli import (
    CLASSES_HELP,
    OneLineParser,
    UsageError,
    add_noise_argument,
    choice_list,
    class_count,
    int_in_range,
)
from rbrl_ray.envs import TASK_NAMES, Task, get_task
from rbrl_ray.feedback.rater import SKIPPED, RaterConfig, SyntheticRater, parse_noise
from rbrl_ray.feedback.scripted import collect_segments
from rbrl_ray.feedback.segments import Segments
from rbrl_ray.jsonio import write_json
from rbrl_ray.methods import REWARD_METHODS

PROG = "rbrl_ray.reward_bench"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="cartpole-balance", help=f"one of: {', '.join(TASK_NAMES)}")
    p.add_argument("--classes", type=class_count, default=3, help=CLASSES_HELP)
    p.add_argument("--ratings", type=int_in_range("ratings", 1), default=2000)
    p.add_argument("--heldout", type=int_in_range("heldout", 2), default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--methods", default=",".join(REWARD_METHODS), help="comma-separated reward methods"
    )
    add_noise_argument(p)
    p.add_argument("--max-epochs", type=int_in_range("max-epochs", 1), default=100)
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument(
        "--rated-store",
        type=Path,
        help="fit on the ratings in this store (a person's, from rbrl_ray.rate) instead of "
        "synthetic ones; --env is then the store's task",
    )
    p.add_argument(
        "--skip-damaged",
        action="store_true",
        help="with --rated-store: leave out unreadable store files (listed) instead of stopping",
    )
    return p


def stored_ratings(
    path: Path, classes: int, skip_damaged: bool = False
) -> tuple[Task, Segments, np.ndarray]:
    """A rated store's task, segments and labels; UsageError (one line) if unusable."""
    from rbrl_ray.envs import task_of_observations
    from rbrl_ray.feedback.store import RatedStore

    store = RatedStore(path, skip_damaged=skip_damaged)
    loaded = store.load() if path.is_dir() else None
    for skipped in store.skipped:
        print(f"{PROG}: skipped damaged {skipped}", file=sys.stderr)
    if loaded is None:
        raise UsageError(f"--rated-store {str(path)!r}: no ratings_*.npz in it")
    segments, labels = loaded
    if labels.max() >= classes:
        raise UsageError(
            f"--rated-store {str(path)!r} has rating {labels.max()}; --classes {classes} "
            f"allows 0..{classes - 1}"
        )
    return get_task(task_of_observations(segments.obs.shape[-1])), segments, labels


def parse_methods(text: str) -> list[str]:
    return choice_list(text, REWARD_METHODS, "method", "--methods")


def rate_until(
    rater: SyntheticRater, segments: Segments, wanted: int, rng: np.random.Generator
) -> tuple[Segments, np.ndarray]:
    """The first `wanted` segments the rater did not skip, and their labels."""
    labels = rater.rate(segments.true_returns, rng)
    kept = np.flatnonzero(labels != SKIPPED)[:wanted]
    return segments.take(kept), labels[kept]


def histogram(labels: np.ndarray, n: int) -> list[int]:
    return np.bincount(labels, minlength=n)[:n].tolist()


def collect(env: str, count: int, seed: int, what: str) -> Segments:
    with tqdm(total=count, desc=f"collect {what}", unit="seg", leave=False) as bar:
        return collect_segments(env, count, seed, on_episode=bar.update)


def fit_method(
    method: str, data: dict[str, Any], task: Task, *, classes: int, max_epochs: int, seed: int
) -> dict[str, Any]:
    """Fit `method` on data["train"] and score it on data["heldout"] (fidelity metrics,
    learned σ's, fit time)."""
    # torch and scipy load here, not at import: bad arguments are answered in a second
    from rbrl_ray.reward import RewardModelConfig, RewardTrainer, evaluate_fidelity

    config = RewardModelConfig(max_epochs=max_epochs)
    trainer = RewardTrainer(task.obs_dim, task.act_dim, classes, method, config, seed=seed)
    with tqdm(total=config.max_epochs, desc=f"fit {method:<10}", unit="ep") as bar:

        def on_epoch(epoch: int, accuracy: float) -> None:
            bar.update(1)
            bar.set_postfix(train_acc=f"{accuracy:.3f}")

        report = trainer.fit(data["train"], data["train_labels"], on_epoch)
    fidelity = evaluate_fidelity(
        trainer.model,
        data["train"],
        data["train_labels"],
        data["heldout"],
        data["heldout_labels"],
        classes,
    )
    return {
        **fidelity.as_dict(),
        "sigma_cls": report.sigma_cls,
        "sigma_reg": report.sigma_reg,
        "fit_seconds": round(report.seconds, 2),
        "epochs": report.epochs,
        "train_accuracy": report.train_accuracy,
    }


def results_table(results: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    columns = {
        "accuracy": "held-out acc",
        "pearson": "pearson",
        "spearman": "spearman",
        "sigma_cls": "σ_cls",
        "sigma_reg": "σ_reg",
        "train_accuracy": "train acc",
        "epochs": "epochs",
        "fit_seconds": "fit s",
    }
    table.add_column("method")
    for header in columns.values():
        table.add_column(header, justify="right")
    for method, row in results.items():
        cells = []
        for c in columns:
            v = row[c]
            cells.append("—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        table.add_row(method, *cells)
    return table


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    task = get_task(args.env)
    methods = parse_methods(args.methods)
    try:
        noise = parse_noise(args.noise)
    except ValueError as err:
        raise UsageError(str(err)) from None
    rater = SyntheticRater(RaterConfig(n_classes=args.classes, noise=noise))
    console = Console(width=max(100, Console().width))
    rng = np.random.default_rng(args.seed)

    agreement = None
    if args.rated_store is not None:
        task, train, train_labels = stored_ratings(
            args.rated_store, args.classes, args.skip_damaged
        )
        agreement = float(np.mean(rater.exact_classes(train.true_returns) == train_labels))
    else:
        # Skipping raters leave some segments unrated: collect a margin more.
        spare = 1.0 / (1.0 - noise.skip) * 1.1 if noise.skip else 1.0
        pool = collect(task.name, int(np.ceil(args.ratings * spare)) + 1, args.seed, "rated")
        train, train_labels = rate_until(rater, pool, args.ratings, rng)
    # Held-out segments come from other episodes (another seed), labelled noiselessly.
    heldout = collect(task.name, args.heldout, args.seed + 1_000_000, "held-out")
    heldout_labels = rater.exact_classes(heldout.true_returns)

    n = args.classes
    rated_hist, heldout_hist = histogram(train_labels, n), histogram(heldout_labels, n)
    console.print(f"[bold]{task.name}[/], {n} classes, bins {np.round(rater.bin_edges(), 2)}")
    console.print(f"rated    ({len(train_labels)}): {rated_hist}")
    console.print(f"held-out ({len(heldout_labels)}): {heldout_hist}")
    if agreement is not None:
        console.print(f"stored ratings = synthetic rater's bins on {agreement:.1%} of segments")
    for what, hist in (("rated", rated_hist), ("held-out", heldout_hist)):
        if sum(1 for c in hist if c > 0) < 2:
            raise UsageError(
                f"degenerate benchmark: every {what} segment of {task.name} is in one class "
                f"(histogram {hist}), so no fidelity can be measured; try fewer classes or "
                "another env"
            )

    data = {
        "train": train,
        "train_labels": train_labels,
        "heldout": heldout,
        "heldout_labels": heldout_labels,
    }
    fit = dict(classes=n, max_epochs=args.max_epochs, seed=args.seed)
    results = {m: fit_method(m, data, task, **fit) for m in methods}
    console.print(results_table(results, f"{task.name}, {n} classes, {len(train_labels)} ratings"))

    if args.json:
        payload = {
            "env": task.name,
            "classes": n,
            "ratings": len(train_labels),
            "heldout": len(heldout_labels),
            "seed": args.seed,
            "noise": noise.model_dump(),
            "rated_store": None if args.rated_store is None else str(args.rated_store),
            "agreement_with_synthetic": agreement,
            "rated_histogram": rated_hist,
            "heldout_histogram": heldout_hist,
            "methods": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, payload)
        console.print(f"wrote {args.json}")
    return 0
