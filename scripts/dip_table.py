"""The reward methods' dip on one env, per trial, as ANALYSIS.md's tables show it.

    python scripts/dip_table.py results/campaign_v2 --env cartpole-balance

Reads the campaign's committed records (trials/*.json) and prints one markdown row
per reward-learning trial: the dip's low (training return between 32k and 400k env
steps), r̂'s std on the policy's batches at 96k / 160k / 240k and its mean at 160k /
240k (the iteration whose sample count first reaches the step), the first step the
training return and an evaluation reached 900, the final ratings per class and the
final measure of RESULTS.md (the mean evaluation over the last 20 % of the run).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from rbrl_ray.report.results import final_measure
from rbrl_ray.report.trials import Trial, load_trials

DIP = (32_000, 400_000)
SPREAD_AT = (96_000, 160_000, 240_000)
MEAN_AT = (160_000, 240_000)
REACHED = 900.0


def first_reaching(curve: pd.DataFrame, column: str) -> str:
    rows = curve[curve[column] >= REACHED]
    return f"{int(rows['steps'].iloc[0]) // 1000}k" if len(rows) else "never"


def row(trial: Trial) -> str:
    c = trial.curve
    dip = c[(c["steps"] >= DIP[0]) & (c["steps"] <= DIP[1])].dropna(subset=["true_return"])
    low = dip.loc[dip["true_return"].idxmin()]
    spread = " / ".join(f"{trial.at('train_reward_std', s):.2f}" for s in SPREAD_AT)
    mean = " / ".join(f"{trial.at('train_reward_mean', s):.2f}" for s in MEAN_AT)
    mean = mean.replace("-", "−")  # the pages' minus sign
    classes = " / ".join(f"{n:,}" for n in trial.rating_histogram or ())
    return (
        f"| {trial.spec.method} s{trial.spec.seed} | {low['true_return']:.1f} at "
        f"{int(low['steps']) // 1000}k | {spread} | {mean} | {first_reaching(c, 'true_return')} "
        f"| {first_reaching(c, 'eval_return')} | {classes} | {final_measure(trial):.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("--env", default="cartpole-balance")
    args = parser.parse_args()
    trials = [
        t
        for t in load_trials(args.records).trials
        if t.spec.env == args.env and t.spec.learns_reward
    ]
    print(
        "| run | low of the dip | r̂ std 96k / 160k / 240k | r̂ mean 160k / 240k "
        "| return ≥ 900 | evaluation ≥ 900 | ratings per class | final measure |"
    )
    print("|---|---:|---|---|---:|---:|---|---:|")
    for trial in sorted(trials, key=lambda t: (t.spec.seed, t.spec.method != "ours")):
        print(row(trial))


if __name__ == "__main__":
    main()
