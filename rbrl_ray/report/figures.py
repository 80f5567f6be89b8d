"""The report's figures (paper Fig. 2 and Fig. 3 layouts, learning curves, reward model,
reward model vs outcome)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rbrl_ray.methods import METHODS  # noqa: E402
from rbrl_ray.report.results import final_measure  # noqa: E402
from rbrl_ray.report.trials import LATE, Trial  # noqa: E402

METHOD_IDS = tuple(METHODS)  # legend order
#: env steps as 80k, 1.2M: full numbers run into each other under the axis
STEPS_FORMAT = matplotlib.ticker.FuncFormatter(
    lambda x, _: f"{x / 1e6:g}M" if abs(x) >= 1e6 else f"{x / 1e3:g}k" if x else "0"
)


def _panels(count: int) -> tuple[plt.Figure, np.ndarray]:
    columns = min(3, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.8 * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, axes.ravel()  # an array: iterable more than once


def _shared_legend(fig: plt.Figure, axes: np.ndarray) -> None:
    """One legend under the panels naming every series any panel draws."""
    handles: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=min(6, len(handles)), fontsize=8, frameon=False)  # fmt: skip
    fig.tight_layout(rect=(0, 0.07 if handles else 0, 1, 1))


def _over_steps(ax: plt.Axes, ylabel: str) -> None:
    """An axis over env steps: labels, 80k/1.2M ticks, a light grid, a legend if drawn."""
    ax.set_xlabel("env steps")
    ax.xaxis.set_major_formatter(STEPS_FORMAT)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)


def _save(fig: plt.Figure, out: Path) -> None:
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _seeds_note(rows: pd.DataFrame) -> str:
    """'n = 1' (a single-seed panel) or 'n = 3..5': the seeds behind a panel's points."""
    counts = sorted({int(n) for n in rows["seeds"].dropna()})
    if not counts:
        return ""
    return f"n = {counts[0]}" if len(counts) == 1 else f"n = {counts[0]}..{counts[-1]}"


def final_column(summary: pd.DataFrame) -> str:
    """'eval' (the frozen policy's final evaluation) where every row has one, else
    'return' (the last training return): one measure per figure, never a mix."""
    has_eval = "eval_mean" in summary and len(summary) and summary["eval_mean"].notna().all()
    return "eval" if has_eval else "return"


def methods_vs_classes(summary: pd.DataFrame, methods: list[str], title: str, out: Path) -> None:
    """One panel per env: final true return, mean ± s.e. over seeds, vs class count."""
    envs = list(dict.fromkeys(summary["env"]))
    measure = final_column(summary)
    fig, axes = _panels(len(envs))
    for ax, env in zip(axes, envs, strict=False):
        for method in methods:
            rows = summary[(summary["env"] == env) & (summary["method"] == method)]
            rows = rows.sort_values("classes")
            if rows.empty:
                continue
            if rows["classes"].isna().all():  # ppo in a grid without classes: a reference line
                ax.axhline(rows[f"{measure}_mean"].iloc[0], color=METHODS[method].colour,
                           linestyle="--", label=METHODS[method].label)  # fmt: skip
                continue
            ax.errorbar(
                rows["classes"],
                rows[f"{measure}_mean"],
                yerr=rows[f"{measure}_se"].fillna(0),
                label=METHODS[method].label,
                color=METHODS[method].colour,
                marker="o",
                capsize=3,
                linestyle="--" if method == "ppo" else "-",
            )
        drawn = summary[(summary["env"] == env) & summary["method"].isin(methods)]
        ax.set_title(f"{env} ({_seeds_note(drawn)})" if _seeds_note(drawn) else env)
        ax.set_xlabel("number of rating classes")
        ax.set_ylabel("final evaluation return" if measure == "eval" else "final training return")
        counts = sorted(summary["classes"].dropna().unique())
        if counts:
            ax.set_xticks(counts)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    _shared_legend(fig, axes)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _band(ax: plt.Axes, curves: list[pd.DataFrame], column: str, **style: object) -> bool:
    """Mean ± s.e. across trials of `column` on a common step grid; False if no data."""
    curves = [c[["steps", column]].dropna() for c in curves]
    curves = [c for c in curves if len(c)]
    if not curves:
        return False
    grid = np.unique(np.concatenate([c["steps"].to_numpy() for c in curves]))
    values = np.stack([np.interp(grid, c["steps"], c[column], left=np.nan) for c in curves])
    mean = np.nanmean(values, axis=0)
    se = np.nanstd(values, axis=0, ddof=1) / np.sqrt(len(curves)) if len(curves) > 1 else 0 * mean
    ax.plot(grid, mean, **style)
    ax.fill_between(grid, mean - se, mean + se, alpha=0.2, color=style.get("color"))
    return True


def learning_curves(trials: list[Trial], env: str, out: Path) -> None:
    """One panel per class count: true return vs env steps, a band per method.

    Solid: the training return (exploring policy, RLlib's episode window); dotted
    with dots: the frozen policy's evaluations."""
    mine = [t for t in trials if t.spec.env == env]
    counts = sorted({t.spec.classes for t in mine if t.spec.classes is not None}) or [None]
    fig, axes = _panels(len(counts))
    for ax, classes in zip(axes, counts, strict=False):
        evaluated = False
        for method in METHOD_IDS:
            group = [
                t.curve
                for t in mine
                if t.spec.method == method and (method == "ppo" or t.spec.classes == classes)
            ]
            if group:
                colour = METHODS[method].colour
                label = f"{METHODS[method].label} (n={len(group)})"
                _band(ax, group, "true_return", color=colour, label=label)
                evaluated = _band(ax, group, "eval_return", color=colour, linestyle=":",
                                  marker=".") or evaluated  # fmt: skip
        if evaluated:  # the line styles, named once (the colours name the methods)
            ax.plot([], [], color="grey", label="solid: training return")
            ax.plot([], [], color="grey", linestyle=":", marker=".",
                    label="dotted, dots: frozen policy's evaluation")  # fmt: skip
        ax.set_title(f"{env}, {classes} classes" if classes else env)
        _over_steps(ax, "true episode return")
    _save(fig, out)


def reward_model_panels(trials: list[Trial], out: Path) -> None:
    """Reward-model accuracy and r̂–r correlation per method (the exploration reward's
    correlation apart, dotted); learned σ's of `ours`. Says what it pools."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    learned = [t for t in trials if t.spec.learns_reward]
    for method in METHOD_IDS:
        group = [t.curve for t in learned if t.spec.method == method]
        if group:
            label = f"{METHODS[method].label} (n={len(group)})"
            style = {"color": METHODS[method].colour, "label": label}
            _band(axes[0], group, "rm_accuracy", **style)
            _band(axes[1], group, "pearson_true", **style)
            _band(axes[1], group, "explore_pearson_true", color=style["color"], linestyle=":",
                  label=f"{METHODS[method].label}: exploration reward")  # fmt: skip
    ours = [t.curve for t in learned if t.spec.method == "ours"]
    _band(axes[2], ours, "sigma_cls", color="tab:red", label="σ_cls (classification)")
    _band(axes[2], ours, "sigma_reg", color="tab:cyan", label="σ_reg (regression)")
    titles = (
        "reward-model training rating accuracy",
        "Pearson r(reward trained on, true reward) per batch\n"
        "solid: r̂ of the reward model; dotted: the exploration reward",
        "learned uncertainty σ of Ours (eq. 5)",
    )
    ylabels = ("accuracy", "correlation", "σ = exp(s/2)")
    for ax, title, ylabel in zip(axes, titles, ylabels, strict=True):
        ax.set_title(title, fontsize=10)
        _over_steps(ax, ylabel)
    envs = ", ".join(sorted({t.spec.env for t in learned})) or "none"
    counts = ", ".join(str(c) for c in sorted({t.spec.classes for t in learned})) or "none"
    fig.suptitle(f"pooled over envs: {envs}; rating classes: {counts}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def has_reward_on_policy(trials: list[Trial]) -> bool:
    """Whether any reward-learning trial logged the reward its policy trained on
    (records from before that metric did not)."""
    return any(
        t.spec.learns_reward and "train_reward_mean" in t.curve and
        t.curve["train_reward_mean"].notna().any() for t in trials
    )  # fmt: skip


def reward_on_policy(trials: list[Trial], env: str, out: Path) -> None:
    """Left: the training return; right: the learned reward r̂ on the policy's own
    batches once a model exists (mean, solid; spread across steps, dashed), per
    reward method, mean ± s.e. over seeds. Where r̂ sits flat at its floor the policy
    has little to learn from, whatever the model's ranking of the rated pool."""
    mine = [t for t in trials if t.spec.env == env and t.spec.learns_reward]
    fig, (ret, rew) = plt.subplots(1, 2, figsize=(12, 4.2))
    for method in METHOD_IDS:
        group = [t for t in mine if t.spec.method == method]
        if not group:
            continue
        colour, label = METHODS[method].colour, f"{METHODS[method].label} (n={len(group)})"
        _band(ret, [t.curve for t in group], "true_return", color=colour, label=label)
        model_phase = [t.curve[t.curve["steps"] > t.spec.schedule.explore_steps] for t in group]
        _band(rew, model_phase, "train_reward_mean", color=colour, label=f"{label}: mean")
        _band(rew, model_phase, "train_reward_std", color=colour, linestyle="--",
              label=f"{label}: std")  # fmt: skip
    ret.set_title(f"{env}: training return", fontsize=10)
    rew.set_title("r̂ on the policy's own batches, after the exploration phase", fontsize=10)
    _over_steps(ret, "true episode return")
    _over_steps(rew, "r̂ per step (in (−1, 1))")
    _save(fig, out)


def reward_vs_return(trials: list[Trial], out: Path) -> None:
    """One panel per env: each reward-learning trial's final return against its reward
    model's late r(r̂, r); PPO on the true reward as a dashed line. Shows whether the
    runs that lost had the worse reward model, or lost with a good one."""
    done = [t for t in trials if t.finished]
    envs = sorted({t.spec.env for t in done if t.spec.learns_reward}) or ["no reward learning"]
    counts = sorted({t.spec.classes for t in done if t.spec.classes})
    markers = dict(zip(counts, "os^Dv<>p", strict=False))
    fig, axes = _panels(len(envs))
    for ax, env in zip(axes, envs, strict=False):
        mine = [t for t in done if t.spec.env == env]
        ppo = [final_measure(t) for t in mine if t.spec.method == "ppo"]
        if ppo:
            ax.axhline(np.mean(ppo), color=METHODS["ppo"].colour, linestyle="--",
                       label=f"{METHODS['ppo'].label}, mean (n={len(ppo)})")  # fmt: skip
        for method in METHOD_IDS:
            for classes, marker in markers.items():
                group = [t for t in mine if t.spec.method == method and t.spec.classes == classes]
                if group and METHODS[method].learns_reward:
                    ax.scatter([t.late("pearson_true", LATE) for t in group],
                               [final_measure(t) for t in group], marker=marker,
                               color=METHODS[method].colour, alpha=0.8,
                               label=f"{METHODS[method].label}, {classes} cl.")  # fmt: skip
        ax.set_title(env)
        ax.set_xlabel("r(r̂, true reward), last quarter of training")
        ax.set_xlim(min(0.0, *ax.get_xlim()), 1.0)  # one scale for every env: r ≤ 1
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        evaluated = all(not np.isnan(t.final_eval_return) for t in mine)
        ax.set_ylabel("final evaluation return" if evaluated else "final return (eval, else last)")
        ax.grid(alpha=0.3)
        if ax.collections or ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
