"""Every file of a report, and the report as a W&B run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rbrl_ray.report.aggregate import performance_profiles
from rbrl_ray.report.earlier import earlier_lines, load_options, notes_lines
from rbrl_ray.report.figures import (
    has_reward_on_policy,
    learning_curves,
    methods_vs_classes,
    reward_model_panels,
    reward_on_policy,
    reward_vs_return,
)
from rbrl_ray.report.markdown import report_markdown
from rbrl_ray.report.results import final_measure, finals_by_cell, results_markdown
from rbrl_ray.report.summary import missing, summarise
from rbrl_ray.report.trials import Trial, is_campaign, load_pilots, load_trials, read_plan
from rbrl_ray.report.varied import (
    along_figure,
    along_frame,
    along_table,
    marginal_lines,
    varied_settings,
)
from rbrl_ray.validation import ConfigError
from rbrl_ray.wandb_auth import has_wandb_credentials

FIG2_METHODS = ["ppo", "rbrl", "ours"]
FIG3_METHODS = ["ours", "ours_equal", "ours_cls", "ours_reg"]
PAPER_FIGURES = [
    ("fig2_methods.png", FIG2_METHODS, "Methods vs number of rating classes (paper Fig. 2)"),
    ("fig3_ablation.png", FIG3_METHODS, "Ablation of the multi-task loss (paper Fig. 3)"),
]


def compares(summary: pd.DataFrame, methods: list[str]) -> bool:
    """Whether the trials hold two of `methods`, or one at two class counts: a paper
    figure with less than that would compare nothing (one point per panel)."""
    rows = summary[summary["method"].isin(methods)]
    return rows["method"].nunique() >= 2 or rows["classes"].nunique() >= 2


def write_report(storage_dir: Path, out: Path, skip_damaged: bool = False) -> dict[str, object]:
    """Every file of the report; returns what was written, what is missing and the
    damaged files left out (`skip_damaged`; otherwise one raises DamagedFile)."""
    options = load_options(storage_dir)  # before any work: a bad report.yaml is one line
    loaded = load_trials(storage_dir, skip_damaged)
    trials = loaded.trials
    if not trials:
        raise ConfigError(f"no trials in {str(storage_dir)!r}: expected folders with params.json")
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(trials)
    summary.to_csv(out / "summary.csv", index=False)
    figures = {}
    for name, methods, caption in PAPER_FIGURES:
        if compares(summary, methods):
            methods_vs_classes(summary, methods, caption, out / name)
            figures[name] = caption
    figures |= {
        "reward_model.png": "Reward model over training",
        "reward_vs_return.png": "Reward model vs outcome: each trial's final return "
        "against its reward model's late correlation with the true reward",
    }
    reward_model_panels(trials, out / "reward_model.png")
    reward_vs_return(trials, out / "reward_vs_return.png")
    performance_profiles(trials, final_measure, out / "performance_profile.png")
    for env in sorted({t.spec.env for t in trials}):
        name = f"curves_{env}.png"
        learning_curves(trials, env, out / name)
        figures[name] = (
            f"Learning curves, {env} (true return, mean ± s.e. over seeds; dotted: "
            "evaluations of the frozen policy)"
        )
    if has_reward_on_policy(trials):  # records from before the metric have none
        for env in sorted({t.spec.env for t in trials if t.spec.learns_reward}):
            name = f"reward_on_policy_{env}.png"
            reward_on_policy(trials, env, out / name)
            figures[name] = (
                f"The learned reward on the policy's own batches, {env}: its mean and "
                "spread per step after the exploration phase, beside the training return"
            )
    varied = varied_section(trials, figures, out)
    gaps = missing(trials, read_plan(storage_dir))
    if is_campaign(storage_dir):
        page = out / "RESULTS.md"
        pilots = load_pilots(storage_dir)
        beside = [*earlier_lines(storage_dir, trials, options, finals_by_cell),
                  *notes_lines(options)]  # fmt: skip
        page.write_text(
            results_markdown(storage_dir, trials, figures, gaps, pilots, varied, beside)
        )
    else:
        page = out / "report.md"
        page.write_text(report_markdown(storage_dir, trials, summary, figures, gaps, varied))
    return {"summary": summary, "figures": figures, "missing": gaps, "trials": trials,
            "page": page, "skipped": loaded.skipped}  # fmt: skip


def varied_section(trials: list[Trial], figures: dict[str, str], out: Path) -> list[str]:
    """For each setting the trials varied, a figure (added to `figures`); the page's
    section with their table. Nothing when none was varied."""
    varied = varied_settings(trials)
    if not varied:
        return []
    frame = along_frame(trials, varied, final_measure)
    for path in varied:
        name = f"along_{path}.png"
        along_figure(frame, varied, path, out / name)
        figures[name] = (
            f"Final evaluation return against {path} (mean ± s.e. over seeds; a line per "
            "method and value of the other varied settings)"
        )
    return [
        "## Varied settings",
        "",
        f"The trials varied {', '.join(f'`{p}`' for p in varied)}; the tables above pool "
        "over them. Final evaluation return (the frozen policy, averaged over its "
        "evaluations in the last 20 % of the run), mean ± s.e. (seeds), per setting:",
        "",
        *along_table(frame, varied),
        "",
        "Each setting on its own, pooled over seeds and the other varied settings:",
        "",
        *marginal_lines(frame, varied),
        "",
    ]


def log_to_wandb(out: Path, result: dict[str, object], project: str, name: str) -> str:
    """The summary table and figures as one W&B run next to the trial runs."""
    import wandb

    mode = "online" if has_wandb_credentials() else "offline"
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
