"""Reading results: a sweep's Tune storage folder or a campaign's records (no W&B needed).

Each Tune trial folder holds `params.json` (its config, with the experiment spec)
and `result.json` (one JSON object per training iteration). Tune's `progress.csv`
is not used: its columns are fixed by the first row, and the true return only
appears once an episode has finished. A campaign's folder holds `trials/*.json`,
one compact record per finished trial (rbrl_ray/campaign/records.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rbrl_ray import metric_names as m
from rbrl_ray.campaign.records import PLAN_FILE
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.jsonio import DamagedFile, read_json
from rbrl_ray.rllib.keys import spec_of
from rbrl_ray.trial_results import result_rows

PILOTS_DIR = "pilots"  # a campaign's rating-range pilots, beside trials/

#: The final measure averages the frozen policy's evaluations over the last 20 % of a
#: run: one 8-episode point is noisy where outcomes are bimodal (a policy that balances
#: or falls), and a 1M-step trial has three evaluations there (v1's 304k ones: one).
FINAL_WINDOW = 0.2

#: The window of the reward model's correlation with the true reward: one batch is noisy,
#: and by the last quarter of training a campaign's reward model has (nearly) all its
#: ratings (this project's schedule gives the 2,000th by 232k of 300k steps).
LATE = 0.25

#: Metric -> the curve's column name.
CURVE_COLUMNS = {
    m.STEPS: "steps",
    m.TRUE_RETURN: "true_return",
    m.EVAL_RETURN: "eval_return",
    m.NUM_RATINGS: "ratings",
    m.RM_ACCURACY: "rm_accuracy",
    m.PEARSON_TRUE: "pearson_true",
    m.EXPLORE_PEARSON_TRUE: "explore_pearson_true",
    m.RM_VERSION: "rm_version",
    m.SIGMA_CLS: "sigma_cls",
    m.SIGMA_REG: "sigma_reg",
    m.TRAIN_REWARD_MEAN: "train_reward_mean",
    m.TRAIN_REWARD_STD: "train_reward_std",
}


@dataclass(frozen=True)
class Trial:
    """One trial's spec and its per-iteration curve (columns of CURVE_COLUMNS)."""

    path: Path
    spec: ExperimentSpec
    curve: pd.DataFrame
    rating_histogram: tuple[int, ...] | None = None  # the final ratings per class
    #: A campaign record's own fields besides spec and iterations (tiers, source commit,
    #: packages, restarts, wall time...); None for a Tune trial folder.
    record: dict | None = None

    @property
    def steps(self) -> int:
        return int(self.curve["steps"].max()) if len(self.curve) else 0

    @property
    def finished(self) -> bool:
        return self.steps >= self.spec.timesteps

    @property
    def final_return(self) -> float:
        """The last reported true return (mean over the last episodes RLlib smooths)."""
        returns = self.curve["true_return"].dropna()
        return float(returns.iloc[-1]) if len(returns) else math.nan

    @property
    def final_eval_return(self) -> float:
        """The frozen policy's mean return at the trial's last evaluation (NaN: none)."""
        returns = self.curve["eval_return"].dropna()
        return float(returns.iloc[-1]) if len(returns) else math.nan

    @property
    def late_eval_return(self) -> float:
        """The frozen policy's mean return over its evaluations in the last FINAL_WINDOW
        of the run (NaN: none there)."""
        late = self.curve[self.curve["steps"] >= (1 - FINAL_WINDOW) * self.steps]
        returns = late["eval_return"].dropna()
        return float(returns.mean()) if len(returns) else math.nan

    @property
    def auc(self) -> float:
        """Sample efficiency: the training return averaged over env steps (the area under
        the learning curve divided by its length), NaN before two points exist."""
        curve = self.curve[["steps", "true_return"]].dropna()
        if len(curve) < 2:
            return math.nan
        steps, returns = curve["steps"].to_numpy(), curve["true_return"].to_numpy()
        return float(np.trapezoid(returns, steps) / (steps[-1] - steps[0]))

    def last(self, column: str) -> float:
        """The last reported value of a curve column (NaN: never reported)."""
        values = self.curve[column].dropna()
        return float(values.iloc[-1]) if len(values) else math.nan

    def at(self, column: str, step: int) -> float:
        """A curve column's first value reported once the samples reach `step` (NaN: none
        reported there)."""
        values = self.curve[self.curve["steps"] >= step][column].dropna()
        return float(values.iloc[0]) if len(values) else math.nan

    def late(self, column: str, fraction: float = 0.1) -> float:
        """Mean of a curve column over the last `fraction` of training (NaN: none there)."""
        late = self.curve[self.curve["steps"] >= (1 - fraction) * self.steps][column]
        return float(late.dropna().mean()) if late.notna().any() else math.nan


def curve_frame(rows: list[dict]) -> pd.DataFrame:
    """Flattened result rows -> the curve's columns (NaN where a row lacks a metric)."""
    picked = [{short: row.get(key) for key, short in CURVE_COLUMNS.items()} for row in rows]
    frame = pd.DataFrame(picked, columns=list(CURVE_COLUMNS.values()))
    return _exploration_apart(frame.apply(pd.to_numeric, errors="coerce"))


def _exploration_apart(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows from before trials reported the exploration reward's correlation on its own
    (campaign v1) logged it as r(r̂, r): move it where it belongs. An iteration trains
    on a reward model when the previous row had published one (version ≥ 1)."""
    if frame["explore_pearson_true"].notna().any() or frame["pearson_true"].isna().all():
        return frame
    exploring = ~(frame["rm_version"].shift(1).fillna(0) >= 1)
    frame.loc[exploring, "explore_pearson_true"] = frame.loc[exploring, "pearson_true"]
    frame.loc[exploring, "pearson_true"] = math.nan
    return frame


def read_curve(trial_dir: Path) -> pd.DataFrame:
    """The curve of a Tune trial: one row per iteration (trial_results.py's rule)."""
    return curve_frame(result_rows(trial_dir, ADVICE))


ADVICE = "move it aside and report the rest, or pass --skip-damaged"


@dataclass
class Loaded:
    """The trials read from a folder and the damaged files left out (--skip-damaged)."""

    trials: list[Trial]
    skipped: list[DamagedFile]


def _record(path: Path) -> Trial:
    record = read_json(path, "trial record", ADVICE)
    try:
        spec = ExperimentSpec.from_stored(record["spec"])
        histogram = record.get("rating_histogram")
        histogram = tuple(histogram) if histogram else None
        extra = {k: v for k, v in record.items() if k not in ("spec", "iterations")}
        return Trial(path, spec, curve_frame(record["iterations"]), histogram, extra)
    except (KeyError, TypeError, ValueError) as err:
        problem = f"not a trial record: {type(err).__name__} {err}".splitlines()[0]
        raise DamagedFile(path, "trial record", problem, ADVICE) from None


def _tune_trial(params: Path) -> Trial | None:
    config = read_json(params, "Tune params file", ADVICE)
    try:
        spec = spec_of(config)
    except (TypeError, ValueError) as err:
        problem = f"its experiment spec is invalid: {type(err).__name__}".splitlines()[0]
        raise DamagedFile(params, "Tune params file", problem, ADVICE) from None
    if spec is None:
        return None
    return Trial(params.parent, spec, read_curve(params.parent))


def read_plan(folder: Path) -> list[dict[str, Any]] | None:
    """The trials a campaign's YAML asks for (its plan.json), None without one."""
    path = folder / PLAN_FILE
    if not path.is_file():
        return None
    advice = "rerun the campaign command (it writes the plan) or delete the file"
    return list(read_json(path, "campaign plan", advice)["trials"])


def load_pilots(folder: Path) -> list[Trial]:
    """A campaign's rating-range pilots (pilots/*.json): records of trials whose ratings
    starved a class at their env's first range; no result is computed from them."""
    return [_record(path) for path in sorted((folder / PILOTS_DIR).glob("*.json"))]


def is_campaign(folder: Path) -> bool:
    """A campaign's records folder (trials/*.json), not a Tune storage folder."""
    return (folder / "trials").is_dir()


def load_trials(storage_dir: Path, skip_damaged: bool = False) -> Loaded:
    """A campaign's records, or every Tune trial folder under `storage_dir` that carries
    an experiment spec. A damaged file raises DamagedFile, or with `skip_damaged` is
    left out and listed; nothing is ever changed on disk."""
    if is_campaign(storage_dir):
        paths, read = sorted((storage_dir / "trials").glob("*.json")), _record
    else:
        paths, read = sorted(storage_dir.glob("*/params.json")), _tune_trial
    loaded = Loaded([], [])
    for path in paths:
        try:
            trial = read(path)
        except DamagedFile as damage:
            if not skip_damaged:
                raise
            loaded.skipped.append(damage)
            continue
        if trial is not None:
            loaded.trials.append(trial)
    return loaded
