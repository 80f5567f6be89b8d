"""Reading one trial's curve at a step, as the analysis scripts' tables do (synthetic
curve: the numbers are known, no training)."""

import math
from pathlib import Path

import pandas as pd

from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.report.trials import Trial


def trial() -> Trial:
    spec = ExperimentSpec(env="cartpole-balance", method="ours", classes=3, seed=0,
                          timesteps=3000, rating_range=(0.0, 50.0))  # fmt: skip
    curve = pd.DataFrame({"steps": [1000, 2000, 3000],
                          "true_return": [math.nan, 20.0, 30.0],
                          "eval_return": [5.0, math.nan, 35.0]})  # fmt: skip
    return Trial(Path("/t/cartpole"), spec, curve)


def test_a_column_is_read_at_the_first_iteration_reaching_the_step():
    assert trial().at("true_return", 1500) == 20.0
    assert trial().at("true_return", 2000) == 20.0
    assert trial().at("eval_return", 1) == 5.0


def test_an_iteration_that_did_not_report_the_column_is_passed_over():
    assert trial().at("true_return", 0) == 20.0
    assert trial().at("eval_return", 1500) == 35.0


def test_a_step_past_the_curve_reads_nan():
    assert math.isnan(trial().at("true_return", 3001))
