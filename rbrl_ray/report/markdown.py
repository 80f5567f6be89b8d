"""report.md: the sweep's settings, summary table and figures."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from rbrl_ray.methods import METHODS
from rbrl_ray.play import PLAY_DIR
from rbrl_ray.report.trials import FINAL_WINDOW, Trial


def markdown_table(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    shown["method"] = shown["method"].map(lambda m: METHODS[m].label)
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


def report_markdown(
    storage_dir: Path,
    trials: list[Trial],
    summary: pd.DataFrame,
    figures: dict[str, str],
    gaps: list[str],
    varied: list[str] | None = None,
) -> str:
    """The sweep's page; `varied`: the section on the settings it varied, if any."""
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
        "eval: the frozen policy's mean true return over its evaluations in the last "
        f"{FINAL_WINDOW:.0%} of training (no exploration, no update; `evaluation` in the "
        "spec). return: "
        "the last training return RLlib reports (the exploring policy, its mean over "
        "recent episodes). Both averaged over seeds; s.e. = std / sqrt(seeds). `ppo` "
        "ignores the class count and stands in every class count.",
        "",
        "## Summary",
        "",
        markdown_table(summary) if len(summary) else "No finished trials yet.",
        "",
        *(varied or []),
        "## Figures",
        "",
    ]
    for name, caption in figures.items():
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    lines += video_lines(trials, storage_dir / "report")
    lines += ["## Missing", ""] + ([f"- {g}" for g in gaps] or ["Nothing: the grid is complete."])
    return "\n".join(lines) + "\n"


def newest_videos(trials: list[Trial]) -> dict[tuple[str, str], Path]:
    """(env, method) -> the video `rbrl_ray.play` made of its newest checkpoint, for the
    first seed (then trial) that has one."""
    found: dict[tuple[str, str], Path] = {}
    for trial in sorted(trials, key=lambda t: (t.spec.seed, str(t.path))):
        made = sorted((trial.path / PLAY_DIR).glob("checkpoint*.webm"))
        if made and (trial.spec.env, trial.spec.method) not in found:
            found[trial.spec.env, trial.spec.method] = made[-1]
    return found


def video_lines(trials: list[Trial], page_dir: Path) -> list[str]:
    """A Videos section linking each method's video (relative to the page), if any."""
    found = newest_videos(trials)
    if not found:
        return []
    lines = ["## Videos", "", "Episodes of the frozen policy (`python -m rbrl_ray.play TRIAL`), "
             "its last checkpoint, first seed that has one:", ""]  # fmt: skip
    for (env, method), path in sorted(found.items()):
        link = os.path.relpath(path, page_dir)
        lines.append(f"- {env}, {method}: [{path.parent.parent.name}/{path.name}]({link})")
    return [*lines, ""]
