"""RESULTS.md of a campaign: the answer to "does the paper's claim hold here?".

Built from the campaign's committed records alone (python -m rbrl_ray.report
results/<campaign>): the claims table, per env and class count the final
evaluation return and the sample efficiency of every method, the reward models,
and what this budget cannot say.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from rbrl_ray.envs import MAX_EPISODE_RETURN
from rbrl_ray.methods import METHODS
from rbrl_ray.report.aggregate import aggregate_lines
from rbrl_ray.report.claims import (
    ALPHA,
    CEILING,
    CLAIMS,
    MARGIN,
    Finals,
    claims_table,
    compare,
)
from rbrl_ray.report.provenance import provenance_lines
from rbrl_ray.report.saturation import saturated_cells, saturation_lines
from rbrl_ray.report.settings import settings_lines
from rbrl_ray.report.trials import FINAL_WINDOW, LATE, Trial
from rbrl_ray.report.varied import varied_settings

FULL_GRID = (
    "ray job submit --address http://HEAD:8265 --working-dir . -- "
    "python -m rbrl_ray.sweep --config tune_configs/paper.yaml --storage s3://BUCKET/rbrl"
)


def final_measure(trial: Trial) -> float:
    """The mean evaluation return over the last FINAL_WINDOW of the run, or the last
    training return where none was run."""
    late = trial.late_eval_return
    return trial.final_return if math.isnan(late) else late


def finals_by_cell(trials: list[Trial]) -> Finals:
    """Per cell, each seed's final measure."""
    out: Finals = {}
    for t in trials:
        if t.finished:
            key = (t.spec.env, t.spec.classes, t.spec.method)
            out.setdefault(key, {})[t.spec.seed] = final_measure(t)
    return out


def _mean_se(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "–"
    se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    shown = f"{values.mean():.1f}" + ("" if math.isnan(se) else f" ± {se:.1f}")
    return f"{shown} ({len(values)})"


def cell_tables(trials: list[Trial], column: str, title: str) -> list[str]:
    """Per env: a row per class count, a column per method, 'mean ± s.e. (seeds)'."""
    rows = []
    for t in trials:
        if not t.finished:
            continue
        value = final_measure(t) if column == "final" else getattr(t, column)
        rows.append({"env": t.spec.env, "classes": t.spec.classes, "method": t.spec.method,
                     "value": value})  # fmt: skip
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    lines = []
    for env, mine in frame.groupby("env", sort=True):
        methods = [m for m in METHODS if m in set(mine["method"])]
        counts = sorted({c for c in mine["classes"].dropna()}) or [math.nan]
        lines += [f"**{env}**: {title}", "",
                  "| classes | " + " | ".join(METHODS[m].label for m in methods) + " |",
                  "|---:|" + "---:|" * len(methods)]  # fmt: skip
        for classes in counts:
            cells = []
            for method in methods:
                chosen = mine[mine["method"] == method]
                if method != "ppo":
                    chosen = chosen[chosen["classes"] == classes]
                cells.append(_mean_se(chosen["value"]))
            label = "–" if math.isnan(classes) else str(int(classes))
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def reward_model_table(trials: list[Trial]) -> list[str]:
    """Per env and reward method: the final reward model's fit and its agreement with
    the true reward, and (ours) the learned task uncertainties."""
    rows = []
    for t in trials:
        if t.finished and t.spec.learns_reward:
            rows.append(
                {
                    "env": t.spec.env,
                    "method": t.spec.method,
                    "accuracy": t.last("rm_accuracy"),
                    "pearson": t.late("pearson_true", LATE),
                    "reward_mean": t.late("train_reward_mean", LATE),
                    "reward_std": t.late("train_reward_std", LATE),
                    "sigma_cls": t.last("sigma_cls"),
                    "sigma_reg": t.last("sigma_reg"),
                }
            )
    if not rows:
        return ["No reward-learning trials finished."]
    frame = pd.DataFrame(rows).groupby(["env", "method"], sort=True).mean().reset_index()
    lines = ["| env | method | rating accuracy | r(r̂, r), last quarter | r̂ mean, last quarter "
             "| r̂ std, last quarter | σ_cls | σ_reg |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in frame.itertuples(index=False):
        values = [row.accuracy, row.pearson, row.reward_mean, row.reward_std, row.sigma_cls,
                  row.sigma_reg]  # fmt: skip
        shown = ["–" if math.isnan(v) else f"{v:.3f}" for v in values]
        lines.append(f"| {row.env} | {METHODS[row.method].label} | " + " | ".join(shown) + " |")
    return lines


def reward_model_comparison(trials: list[Trial]) -> list[str]:
    """Ours − RbRL in the reward model's late r(r̂, r) per cell, with Welch's test: does
    the multi-task loss learn a reward closer to the true one?"""
    late: Finals = {}
    for t in trials:
        value = t.late("pearson_true", LATE) if t.finished and t.spec.learns_reward else math.nan
        if not math.isnan(value):
            late.setdefault((t.spec.env, t.spec.classes, t.spec.method), {})[t.spec.seed] = value
    cells = compare(late, "ours", "rbrl")
    if not cells:
        return []
    lines = ["Ours − RbRL in r(r̂, r) over the last quarter of training, 95 % CI, two-sided p "
             "(paired by seed where both ran the same seeds, else Welch):", ""]  # fmt: skip
    for c in cells:
        ci = "" if math.isnan(c.ci[0]) else f" [{c.ci[0]:+.3f}, {c.ci[1]:+.3f}]"
        p = "–" if math.isnan(c.p) else f"{c.p:.3f}"
        test = "paired" if c.test.paired else "Welch"
        lines.append(f"- {c.env}, {c.classes} classes: {c.mean_a:.3f} vs {c.mean_b:.3f}, "
                     f"{c.diff:+.3f}{ci}, {test} p {p} (seeds {c.n_a}/{c.n_b})")  # fmt: skip
    return [*lines, ""]


def rating_table(trials: list[Trial], by_seed: bool = False) -> list[str]:
    """Per env, class count, reward method and rating range (and seed, `by_seed`): the
    share of each class among the ratings given (a starved class shows here first)."""
    cells: dict[tuple, list[tuple[int, ...]]] = {}
    for t in trials:
        if t.finished and t.rating_histogram:
            s = t.spec
            seed = s.seed if by_seed else None
            cell = (s.env, s.classes, s.method, tuple(s.rating_range), seed)
            cells.setdefault(cell, []).append(t.rating_histogram)
    if not cells:
        return ["No rating histograms recorded."]
    seed_column = " seed |" if by_seed else ""
    lines = [
        f"| env | classes | method | rating range |{seed_column} ratings per class, low to "
        "high (share) |",
        "|---|---:|---|---|" + ("---:|" if by_seed else "") + "---|",
    ]
    for (env, classes, method, (low, high), seed), histograms in sorted(cells.items()):
        total = [sum(column) for column in zip(*histograms, strict=True)]
        shares = " / ".join(f"{100 * n / sum(total):.1f} %" for n in total)
        where = f"[{low:g}, {high:g}] |" + (f" {seed} |" if by_seed else "")
        lines.append(f"| {env} | {classes} | {METHODS[method].label} | {where} {shares} |")
    return lines


def pilot_lines(pilots: list[Trial]) -> list[str]:
    """The rating-range pilots: where an env's range changed after a real run, and why."""
    if not pilots:
        return []
    return [
        "## Rating-range pilots",
        "",
        "Trials whose ratings starved a class (< 2 %) at their env's first rating range; "
        "the range in `tune_configs/envs.yaml` then came from the returns of the segments "
        "they rated (stage 2 of `bench/rating_boundaries.py`), and their trials ran again. "
        "Their records (`pilots/`) enter no table above.",
        "",
        *rating_table(pilots, by_seed=True),
        "",
    ]


def normalisation_lines(trials: list[Trial]) -> list[str]:
    """What the policies' observations were normalised with, and in how many trials:
    RLlib 2.60's merge of EnvRunner statistics drifts (issue 30), so it is part of what
    a result means, and of how it compares with the paper's PPO (SB3's VecNormalize)."""
    counts: dict[str, int] = {}
    for t in trials:
        kind = t.spec.ppo.observation_normalisation
        counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return []
    shown = "; ".join(f"{kind} ({n} of {len(trials)} trials)" for kind, n in counts.items())
    drifted = any(t.spec.ppo.filter_merge == "rllib" and t.spec.ppo.num_env_runners > 0
                  and t.spec.ppo.normalize_observations for t in trials)  # fmt: skip
    caveat = (
        " The policies here saw differently scaled inputs, so a comparison with the "
        "paper's PPO holds only with that difference in mind (BENCHMARKS.md, "
        "'Observation normalisation')."
        if drifted
        else ""
    )
    return [
        f"Observation normalisation: {shown}. The paper's PPO (SB3 with VecNormalize) "
        f"normalises with the running statistics of every observation.{caveat}",
        "",
    ]


def claims_lines(trials: list[Trial], measure: str) -> list[str]:
    """The claims table, or why these trials measure none of the claims."""
    if varied := varied_settings(trials):
        named = ", ".join(f"`{v}`" for v in varied)
        return [
            f"Not measured: the trials vary {named}, and each claim compares two methods "
            "at one setting; *Varied settings* below compares along them.",
            "",
        ]
    finals = finals_by_cell(trials)
    if not any(compare(finals, claim.a, claim.b) for claim in CLAIMS):
        ran = sorted({t.spec.method for t in trials}, key=list(METHODS).index)
        labels = ", ".join(METHODS[m].label for m in ran)
        return [f"Not measured: each claim compares two methods; these trials ran {labels}.", ""]
    saturated = frozenset(cell[:3] for cell in saturated_cells(trials, final_measure))
    return [claims_table(finals, measure, saturated), ""]


def pooled_note(trials: list[Trial]) -> list[str]:
    """Where settings were varied, what a table cell's mean is over."""
    if not (varied := varied_settings(trials)):
        return []
    named = ", ".join(f"`{v}`" for v in varied)
    return [
        f"Each cell pools every value of {named} (the count is of trials, not seeds); "
        "*Varied settings* below separates them.",
        "",
    ]


def results_markdown(
    source: Path,
    trials: list[Trial],
    figures: dict[str, str],
    gaps: list[str],
    pilots: list[Trial] | None = None,
    varied: list[str] | None = None,
    beside: list[str] | None = None,
) -> str:
    """The page; `beside`: sections setting it beside earlier campaigns and notes."""
    finished = [t for t in trials if t.finished]
    seeds = sorted({t.spec.seed for t in finished})
    steps = sorted({t.spec.timesteps for t in finished})
    measure = "final evaluation return"
    lines = [
        f"# Results: {source.name}",
        "",
        f"Generated by `python -m rbrl_ray.report {source}` from {len(finished)} finished "
        f"trial records (seeds {seeds}, {', '.join(f'{s:,}' for s in steps)} env steps); "
        "rerun it to rebuild this page and its figures.",
        "",
        f"Final evaluation return: the frozen policy's mean true return (no exploration), "
        f"averaged over its evaluations in the last {FINAL_WINDOW:.0%} of the run (each "
        "8 episodes; one at the end of a 304k-step trial, three in 1M). Means ± standard "
        "error over seeds (count in brackets). Each cell compares A with B by a t-test, paired by "
        "seed where both methods learn from ratings and ran the same seeds (a seed gives "
        "them the same exploration phase), unpaired (Welch) otherwise; a claim's cells are "
        f"one family, their one-sided p-values Holm-adjusted, at α = {ALPHA}. 'A beats B "
        "everywhere' holds when every cell shows A − B > 0 and does not hold when one cell "
        "shows A − B < 0. 'A can match or beat B' holds when some cell shows A − B > 0 or, "
        f"by two one-sided tests, |A − B| < {MARGIN:.0%} of B's mean (the margin fixed in "
        "advance); it does not hold when every cell shows A below B by more than the "
        "margin. Anything else is inconclusive at this budget, with the seeds that would "
        "settle each cell at its observed difference and spread. A cell where both means "
        f"reach {CEILING:.0%} of the maximum return ({CEILING * MAX_EPISODE_RETURN:g}) is "
        "marked 'both at the ceiling': the task cannot tell the methods apart there, and a "
        "'can match' that rests on such cells alone says so.",
        "",
        *normalisation_lines(finished),
        *provenance_lines(trials, source),
        *settings_lines([t.spec for t in finished]),
        "## The paper's claims",
        "",
        *claims_lines(trials, measure),
        *aggregate_lines(finished, final_measure),
        *(beside or []),
        "## Final evaluation return",
        "",
        *pooled_note(finished),
        *cell_tables(trials, "final", "final evaluation return, mean ± s.e. (seeds)"),
        "## Sample efficiency",
        "",
        "Area under the training-return curve divided by its length (the mean training "
        "return over the run): higher is faster learning.",
        "",
        *cell_tables(trials, "auc", "mean training return over the run, mean ± s.e. (seeds)"),
        "## Reward models",
        "",
        "Averaged over seeds: at the end of training, the training rating accuracy and "
        "the learned uncertainties of eq. 5 (σ = exp(s/2)); over the last quarter of "
        "training, on the policy's batches, the per-step Pearson correlation of r̂ with "
        "the true reward and r̂'s mean and standard deviation (r̂ lies in [−1, 1]: a mean "
        "near 1 with a small spread is a reward saturated at its top class, which no "
        "longer tells the policy's states apart; '–': records from before these were "
        "logged). The figure *Reward model vs outcome* below puts each trial's "
        "correlation beside its final return.",
        "",
        *reward_model_table(trials),
        "",
        *saturation_lines(trials, final_measure),
        *reward_model_comparison(trials),
        "## Ratings",
        "",
        "The synthetic rater's classes over all ratings of each cell's trials "
        "(rating ranges: `tune_configs/envs.yaml`).",
        "",
        *rating_table(trials),
        "",
        *pilot_lines(pilots or []),
        *(varied or []),
        "## Figures",
        "",
    ]
    for name, caption in figures.items():
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    lines += [
        "## What this budget cannot say",
        "",
        "- The paper trains 4M env steps per run with 10 seeds on six tasks; these trials "
        f"are {', '.join(f'{s:,}' for s in steps)} steps with seeds {seeds}. A difference "
        "that needs more seeds to resolve shows here as 'inconclusive', not as a result.",
        "- Envs without records here are untested by this campaign. Which of its trials "
        "are recorded and which are still to run: `python -m rbrl_ray.campaign --config "
        f"tune_configs/{source.name}.yaml --dry-run`.",
        f"- The full grid on a Ray cluster: `{FULL_GRID}`",
        "",
        "## Missing",
        "",
        *([f"- {g}" for g in gaps] or ["Nothing: every trial found finished."]),
    ]
    return "\n".join(lines) + "\n"
