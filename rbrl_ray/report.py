"""Results of a sweep as tables and figures, read straight from its Tune storage folder.

    python -m rbrl_ray.report results/sweeps/smoke --out results/sweeps/smoke/report [--wandb]

Writes summary.csv, fig2_methods.png, fig3_ablation.png, curves_<env>.png,
reward_model.png and report.md. A partial sweep (missing seeds, trials still
running) is reported as such: what is missing is listed, nothing crashes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from rbrl_ray.cli import OneLineParser, UsageError, run_main
from rbrl_ray.report_figures import (
    LABELS,
    learning_curves,
    methods_vs_classes,
    reward_model_panels,
)
from rbrl_ray.results import Trial, load_trials

PROG = "rbrl_ray.report"
FIG2_METHODS = ["ppo", "rbrl", "ours"]
FIG3_METHODS = ["ours", "ours_equal", "ours_cls", "ours_reg"]


def summarise(trials: list[Trial]) -> pd.DataFrame:
    """One row per (env, classes, method) over the finished trials' seeds.

    `ppo` ignores the class count: its trials stand in every class count of the env.
    """
    rows = []
    for trial in trials:
        if not trial.finished:
            continue
        counts = [trial.spec.classes]
        if trial.spec.method == "ppo":
            counts = sorted(
                {
                    t.spec.classes
                    for t in trials
                    if t.spec.env == trial.spec.env and t.spec.classes is not None
                }
            ) or [None]
        for classes in counts:
            rows.append(
                {
                    "env": trial.spec.env,
                    "classes": classes,
                    "method": trial.spec.method,
                    "seed": trial.spec.seed,
                    "final": trial.final_return,
                    "late": trial.late_return(),
                }
            )
    columns = [
        "env",
        "classes",
        "method",
        "return_mean",
        "return_se",
        "seeds",
        "return_last10pct_mean",
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["env", "classes", "method"], dropna=False, sort=False)
    summary = grouped.agg(
        return_mean=("final", "mean"),
        return_se=(
            "final",
            lambda x: x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.nan,
        ),
        seeds=("seed", "nunique"),
        return_last10pct_mean=("late", "mean"),
    ).reset_index()
    return summary[columns]


def missing(trials: list[Trial]) -> list[str]:
    """What a complete grid of the trials found would add: unfinished trials and
    (env, method, classes) cells short of the seeds seen elsewhere."""
    notes = [
        f"still running or stopped early: {t.path.name} ({t.steps:,} of {t.spec.timesteps:,} steps)"
        for t in trials
        if not t.finished
    ]
    seeds = sorted({t.spec.seed for t in trials})
    cells = {(t.spec.env, t.spec.method, t.spec.classes) for t in trials}
    for env, method, classes in sorted(cells, key=str):
        have = {
            t.spec.seed
            for t in trials
            if t.finished and (t.spec.env, t.spec.method, t.spec.classes) == (env, method, classes)
        }
        lacking = [s for s in seeds if s not in have]
        if lacking:
            label = method if classes is None else f"{method}, {classes} classes"
            notes.append(f"no finished result for {env}, {label}, seeds {lacking}")
    return notes


def _markdown_table(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    shown["method"] = shown["method"].map(LABELS)
    shown["classes"] = shown["classes"].map(lambda c: "all" if pd.isna(c) else str(int(c)))
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in shown.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.1f}"
    return str(value)


def write_report(storage_dir: Path, out: Path) -> dict[str, object]:
    """Every file of the report; returns what was written and what is missing."""
    trials = load_trials(storage_dir)
    if not trials:
        raise UsageError(f"no trials in {str(storage_dir)!r}: expected folders with params.json")
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(trials)
    summary.to_csv(out / "summary.csv", index=False)
    figures = {
        "fig2_methods.png": "Methods vs number of rating classes (paper Fig. 2)",
        "fig3_ablation.png": "Ablation of the multi-task loss (paper Fig. 3)",
        "reward_model.png": "Reward model over training",
    }
    methods_vs_classes(summary, FIG2_METHODS, figures["fig2_methods.png"], out / "fig2_methods.png")
    methods_vs_classes(
        summary, FIG3_METHODS, figures["fig3_ablation.png"], out / "fig3_ablation.png"
    )
    reward_model_panels(trials, out / "reward_model.png")
    for env in sorted({t.spec.env for t in trials}):
        name = f"curves_{env}.png"
        learning_curves(trials, env, out / name)
        figures[name] = f"Learning curves, {env} (true return, mean ± s.e. over seeds)"
    gaps = missing(trials)
    (out / "report.md").write_text(_report_markdown(storage_dir, trials, summary, figures, gaps))
    return {"summary": summary, "figures": figures, "missing": gaps, "trials": trials}


def _report_markdown(
    storage_dir: Path,
    trials: list[Trial],
    summary: pd.DataFrame,
    figures: dict[str, str],
    gaps: list[str],
) -> str:
    spec = trials[0].spec
    finished = sum(t.finished for t in trials)
    lines = [
        f"# Sweep report: {storage_dir.name}",
        "",
        f"{len(trials)} trials found in `{storage_dir}`, {finished} finished.",
        "",
        "## Settings",
        "",
        f"- envs: {', '.join(sorted({t.spec.env for t in trials}))}",
        f"- methods: {', '.join(sorted({t.spec.method for t in trials}))}",
        f"- class counts: {sorted({t.spec.classes for t in trials if t.spec.classes})}",
        f"- seeds: {sorted({t.spec.seed for t in trials})}",
        f"- env steps per trial: {spec.timesteps:,}; ratings per trial: {spec.schedule.total:,} "
        f"({spec.schedule.per_query} every {spec.schedule.every:,} steps after "
        f"{spec.schedule.explore_steps:,} exploration steps)",
        f"- PPO: lr {spec.ppo.lr}, clip {spec.ppo.clip_param}, {spec.ppo.num_epochs} epochs, "
        f"minibatch {spec.ppo.minibatch_size}, batch {spec.ppo.train_batch_size:,}, "
        f"nets {'x'.join(map(str, spec.ppo.hidden))} {spec.ppo.activation}",
        "",
        "Final return: the last true episode return RLlib reports (its mean over recent "
        "episodes), averaged over seeds; s.e. = std / sqrt(seeds). `ppo` ignores the class "
        "count and stands in every class count.",
        "",
        "## Summary",
        "",
        _markdown_table(summary) if len(summary) else "No finished trials yet.",
        "",
        "## Figures",
        "",
    ]
    for name, caption in figures.items():
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    lines += ["## Missing", ""] + ([f"- {g}" for g in gaps] or ["Nothing: the grid is complete."])
    return "\n".join(lines) + "\n"


def log_to_wandb(out: Path, result: dict[str, object], project: str, name: str) -> str:
    """The summary table and figures as one W&B run next to the trial runs."""
    import wandb

    mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
    run = wandb.init(
        project=project,
        name=f"report-{name}",
        job_type="report",
        mode=mode,
        dir=str(out),
        reinit=True,
    )
    summary = result["summary"]
    run.log({"summary": wandb.Table(dataframe=summary.astype({"classes": "object"}))})
    run.log(
        {Path(n).stem: wandb.Image(str(out / n), caption=c) for n, c in result["figures"].items()}
    )
    run.finish()
    return mode


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("storage_dir", type=Path, help="a sweep's folder: STORAGE/NAME")
    p.add_argument("--out", type=Path, help="default: STORAGE_DIR/report")
    p.add_argument("--wandb", action="store_true", help="also log the report to W&B")
    p.add_argument("--wandb-project", default="rbrl_ray")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.storage_dir.is_dir():
        raise UsageError(f"no such sweep folder {str(args.storage_dir)!r}")
    out = args.out or args.storage_dir / "report"
    result = write_report(args.storage_dir, out)
    print(result["summary"].to_string(index=False))
    for gap in result["missing"]:
        print(f"missing: {gap}")
    if args.wandb:
        mode = log_to_wandb(out, result, args.wandb_project, args.storage_dir.name)
        print(f"logged the report to W&B ({mode}), project {args.wandb_project}")
    print(f"wrote {out}/report.md, summary.csv and {len(result['figures'])} figures")
    return 0


if __name__ == "__main__":
    run_main(main, PROG)
