"""Comparing along the settings a sweep or campaign varied (`reward_model.alpha`, ...).

A setting is varied when trials of one cell (env, class count, method) ran with
different values of it; the seed is the replicate, not a setting. For each varied
setting, a figure of the final measure against its values, one line per method
and combination of the other varied settings, mean ± s.e. over seeds, and a table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from rbrl_ray.report.trials import Trial  # noqa: E402
from rbrl_ray.sweep.grid import RATING_ONLY  # noqa: E402
from rbrl_ray.sweep.varied import label, short_names  # noqa: E402

#: What names a cell and its replicate: never a varied setting.
IDENTITY = ("env", "method", "classes", "seed")


def flat_settings(trial: Trial) -> dict[str, Any]:
    """The trial's spec as dotted path -> value (lists as tuples, so they compare)."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            out[prefix.rstrip(".")] = tuple(node) if isinstance(node, list) else node

    walk(trial.spec.model_dump(mode="json"), "")
    return out


def varied_settings(trials: list[Trial]) -> list[str]:
    """Dotted settings with more than one value among the trials of some cell."""
    seen: dict[tuple, dict[str, set]] = {}
    order: list[str] = []
    for trial in trials:
        cell = (trial.spec.env, trial.spec.classes, trial.spec.method)
        values = seen.setdefault(cell, {})
        for path, value in flat_settings(trial).items():
            if path not in IDENTITY:
                values.setdefault(path, set()).add(value)
                if path not in order:
                    order.append(path)
    varied = {p for values in seen.values() for p, v in values.items() if len(v) > 1}
    return [p for p in order if p in varied]


def along_frame(
    trials: list[Trial], varied: list[str], measure: Callable[[Trial], float]
) -> pd.DataFrame:
    """One row per finished trial: env, classes, method, seed, each varied setting's
    value, and the measure."""
    rows = []
    for trial in trials:
        if not trial.finished:
            continue
        settings = flat_settings(trial)
        rows.append(
            {
                "env": trial.spec.env,
                "classes": trial.spec.classes,
                "method": trial.spec.method,
                "seed": trial.spec.seed,
                **{path: settings[path] for path in varied},
                "final": measure(trial),
            }
        )
    return pd.DataFrame(rows)


def _groups(frame: pd.DataFrame, keys: list[str]) -> Iterator[tuple[tuple, pd.DataFrame]]:
    if not keys:
        yield (), frame
        return
    for key, group in frame.groupby(keys, dropna=False, sort=True):
        yield (key if isinstance(key, tuple) else (key,)), group


def along_figure(frame: pd.DataFrame, varied: list[str], path: str, out: Path) -> None:
    """Final measure against `path`'s values (evenly spaced, in sorted order), a panel
    per env, a line per method, class count and value of the other varied settings."""
    names = short_names(varied)
    others = [p for p in varied if p != path]
    envs = sorted(frame["env"].unique())
    fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
    values = sorted(frame[path].dropna().unique(), key=lambda v: (str(type(v)), v))
    position = {v: i for i, v in enumerate(values)}
    for ax, env in zip(axes[0], envs, strict=True):
        cell = frame[frame["env"] == env]
        for key, group in _groups(cell, ["method", "classes", *others]):
            method, classes, *rest = key
            if method == "ppo" and path.split(".")[0] in RATING_ONLY:  # it never reads it
                note = f"ppo (true reward; no {names[path]}), mean of {len(group)}"
                ax.axhline(group["final"].mean(), color="0.4", linestyle="--", label=note)
                continue
            stats = group.groupby(path)["final"].agg(["mean", "sem", "count"]).reset_index()
            xs = [position[v] for v in stats[path]]
            line = [method] + ([] if pd.isna(classes) else [f"{int(classes)} classes"])
            line += [f"{names[p]}={label(v)}" for p, v in zip(others, rest, strict=True)]
            ax.errorbar(xs, stats["mean"], yerr=stats["sem"].fillna(0), marker="o", capsize=3,
                        label=", ".join(line))  # fmt: skip
        ax.set_xticks(range(len(values)), [label(v) for v in values])
        ax.set_xlabel(path)
        ax.set_ylabel("final evaluation return (mean ± s.e. over seeds)")
        ax.set_title(env)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def along_table(frame: pd.DataFrame, varied: list[str]) -> list[str]:
    """Markdown: per env, class count, method and combination of the varied settings,
    the final measure's mean ± s.e. (seeds)."""
    names = short_names(varied)
    header = ["env", "classes", "method", *(names[p] for p in varied), "final (mean ± s.e.)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, group in _groups(frame, ["env", "classes", "method", *varied]):
        env, classes, method, *values = key
        finals = group["final"].dropna()
        se = finals.sem() if len(finals) > 1 else float("nan")
        cell = f"{finals.mean():.1f} ± {se:.1f} ({len(finals)})" if len(finals) else "–"
        row = [env, "" if pd.isna(classes) else str(int(classes)), method]
        lines.append("| " + " | ".join(row + [label(v) for v in values] + [cell]) + " |")
    return lines


def marginal_lines(frame: pd.DataFrame, varied: list[str]) -> list[str]:
    """Per varied setting, per method, the final measure at each of its values pooled
    over seeds and the other varied settings: mean ± s.e. (trials)."""
    lines = []
    for path in varied:
        for (env, method), group in frame.groupby(["env", "method"], sort=True):
            if group[path].nunique() < 2:
                continue
            parts = []
            for value, at in group.groupby(path, sort=True):
                finals = at["final"].dropna()
                se = f" ± {finals.sem():.1f}" if len(finals) > 1 else ""
                parts.append(f"{label(value)}: {finals.mean():.1f}{se} ({len(finals)})")
            lines.append(f"- `{path}`, {env}, {method}: " + "; ".join(parts))
    return lines
