"""The report along the settings a sweep varied: which count as varied, the table, the
figure (synthetic trials: the numbers are known, no training)."""

from pathlib import Path

import pandas as pd

from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.report.results import final_measure
from rbrl_ray.report.trials import Trial
from rbrl_ray.report.varied import (
    along_figure,
    along_frame,
    along_table,
    marginal_lines,
    varied_settings,
)


def trial(env="cartpole-balance", method="ours", seed=0, final=500.0, **reward_model):
    spec = ExperimentSpec(
        env=env, method=method, classes=None if method == "ppo" else 3, seed=seed,
        timesteps=1000, reward_model=reward_model,
        rating_range=(0.0, 50.0) if env == "cartpole-balance" else (0.0, 20.0),
    )  # fmt: skip
    curve = pd.DataFrame({"steps": [500, 1000], "true_return": [1.0, 2.0],
                          "eval_return": [float("nan"), final]})  # fmt: skip
    return Trial(Path(f"/t/{env}_{method}_{seed}"), spec, curve)


def grid():
    finals = {(0.1, 0): 100.0, (0.1, 1): 200.0, (10.0, 0): 700.0, (10.0, 1): 900.0}
    trials = [trial(seed=s, final=f, alpha=a) for (a, s), f in finals.items()]
    # another env with its own rating range, and ppo: neither varies anything
    return trials + [trial(env="walker-walk", seed=0, final=50.0, alpha=0.1),
                     trial(method="ppo", seed=0, final=990.0)]  # fmt: skip


def test_a_setting_is_varied_only_when_one_cell_ran_several_values():
    assert varied_settings(grid()) == ["reward_model.alpha"]
    assert varied_settings([trial(seed=0), trial(seed=1)]) == []  # seeds are replicates


def test_the_table_and_figure_compare_along_the_varied_setting(tmp_path):
    trials = grid()
    frame = along_frame(trials, ["reward_model.alpha"], final_measure)
    table = "\n".join(along_table(frame, ["reward_model.alpha"]))
    assert "| cartpole-balance | 3 | ours | 0.1 | 150.0 ± 50.0 (2) |" in table
    assert "| cartpole-balance | 3 | ours | 10 | 800.0 ± 100.0 (2) |" in table
    assert "| cartpole-balance |  | ppo | 1 | 990.0 ± nan (1) |" in table
    along_figure(frame, ["reward_model.alpha"], "reward_model.alpha", tmp_path / "a.png")
    assert (tmp_path / "a.png").stat().st_size > 10_000


def test_each_varied_setting_is_summarised_on_its_own():
    frame = along_frame(grid(), ["reward_model.alpha"], final_measure)
    (line,) = marginal_lines(frame, ["reward_model.alpha"])
    expected = "0.1: 150.0 ± 50.0 (2); 10: 800.0 ± 100.0 (2)"
    assert line == f"- `reward_model.alpha`, cartpole-balance, ours: {expected}"
