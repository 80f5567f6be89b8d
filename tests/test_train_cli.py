"""rbrl_ray.train end to end: validation before Ray, a tiny real trial, --resume."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from rbrl_ray.envs import TASK_NAMES
from rbrl_ray.feedback.store import RatedStore, lineages, load_latest
from rbrl_ray.methods import ALL_METHODS
from rbrl_ray.progress import COLUMNS as PROGRESS_COLUMNS
from rbrl_ray.trial_summary import read_summary


def _train(*args, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "rbrl_ray.train", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


BASE = ["--env", "cartpole-balance", "--method", "ours", "--classes", "3", "--timesteps", "1000"]


@pytest.mark.parametrize(
    "args, names",
    [
        (
            ["--env", "pong", "--method", "ours", "--classes", "3", "--timesteps", "10"],
            ["'pong'", *TASK_NAMES],
        ),
        (
            ["--env", "finger-spin", "--method", "dpo", "--classes", "3", "--timesteps", "10"],
            ["'dpo'", *ALL_METHODS],
        ),
        (
            ["--env", "finger-spin", "--method", "ours", "--timesteps", "10"],
            ["give classes (2..10)"],
        ),
        (
            ["--env", "finger-spin", "--method", "ours", "--classes", "11", "--timesteps", "10"],
            ["classes", "10"],
        ),
        ([*BASE[:-1], "0"], ["timesteps must be >= 1"]),
        ([*BASE, "--noise", "temperature=3"], ["'temperature=3'", "mistake="]),
        ([*BASE, "--selection", "best"], ["'best'", "uniform", "disagreement"]),
        (["--resume", "/nonexistent/trial"], ["no trial to resume", "/nonexistent/trial"]),
        (["--env", "cartpole-balance"], ["--method is required"]),
        ([*BASE, "--learner-gpus", "-1"], ["--learner-gpus", "≥ 0", "-1"]),
        pytest.param(
            [*BASE, "--learner-gpus", "1"],
            ["--learner-gpus 1", "no CUDA device", "allowed on this machine: 0"],
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here"),
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_before_ray(tmp_path, args, names):
    if "--resume" not in args:
        args = [*args, "--out", str(tmp_path / "trial")]
    result = _train(*args, timeout=120)
    assert result.returncode == 2, result.stderr[-1000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rbrl_ray.train: error:")
    for name in names:
        assert name in lines[0]
    assert "Ray" not in result.stdout + result.stderr
    assert not (tmp_path / "trial").exists()


def _not_json(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


@pytest.mark.slow
def test_tiny_trial_writes_result_and_resume_continues_with_its_ratings(small_ours_trial, tmp_path):
    first = small_ours_trial.run
    assert first.returncode == 0, first.stderr[-3000:]
    # a copy in another folder: a trial folder moved elsewhere resumes there
    out = tmp_path / "trial"
    shutil.copytree(small_ours_trial.folder, out)
    assert "iter    2 | steps     2,000" in first.stdout and "ratings" in first.stdout
    assert re.search(r"trained on [+-]\d\.\d\d ± \d\.\d\d", first.stdout)  # the reward PPO saw
    written = [p for p in out.rglob("*.json") if "checkpoint" not in p.parts]
    assert len(written) > 1, written
    for path in written:  # strict JSON: NaN and Infinity would raise
        json.loads(path.read_text(), parse_constant=_not_json)
    result = read_summary(out)
    assert result["env"] == "cartpole-balance" and result["method"] == "ours"
    assert result["classes"] == 3 and result["seed"] == 0
    assert result["timesteps_total"] == 2000 and result["env_steps_per_s"] > 0
    assert result["ratings"] == 20  # queries due at 1500 and 2000 steps
    assert set(result["reward_model"]) >= {"accuracy", "pearson_true", "sigma_cls", "sigma_reg"}
    assert result["reward_model"]["sigma_cls"] > 0
    assert len(result["curve"]) == 2
    # the first iteration ends no episode: its training return is null, not NaN
    assert result["curve"][0]["true_return"] is None
    # the frozen policy is evaluated at the end (every 5 iterations is not reached)
    assert [c["eval_return"] is None for c in result["curve"]] == [True, False]
    assert 0 < result["eval_return_mean"] == result["curve"][-1]["eval_return"] <= 1000
    progress = pd.read_csv(out / "progress.csv")
    assert list(progress.columns) == list(PROGRESS_COLUMNS)
    assert progress["steps"].tolist() == [1000, 2000]
    assert progress["rating/num_ratings"].tolist() == [0, 20]
    assert (
        np.isnan(progress["reward_model/accuracy"][0]) and progress["reward_model/accuracy"][1] > 0
    )
    (first_run,) = lineages(out / "ratings")
    first_files = {p.name: p.read_bytes() for p in first_run.glob("ratings_*.npz")}

    # resume restores state alone: a checkpoint whose classes have since moved (pickled
    # by module path) resumes as well as one without any class pickle
    for pickled_class in (out / "checkpoint").rglob("class_and_ctor_args.pkl"):
        pickled_class.unlink()
    again = _train("--resume", str(out), "--timesteps", "3000")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "iter    3 | steps     3,000" in again.stdout
    resumed = read_summary(out)
    assert resumed["timesteps_total"] == 3000 and resumed["ratings"] == 30  # + query at 2500
    assert len(resumed["curve"]) == 3
    assert resumed["curve"][-1]["eval_return"] == resumed["eval_return_mean"] is not None
    older, current = lineages(out / "ratings")
    assert older == first_run  # the first run's files are untouched
    assert len(lineages(small_ours_trial.folder / "ratings")) == 1  # nothing written back
    assert {p.name: p.read_bytes() for p in first_run.glob("ratings_*.npz")} == first_files
    restored = load_latest(out / "ratings")[1]
    assert len(restored) == 30
    assert np.array_equal(restored[:20], RatedStore(first_run).load()[1])  # kept, not re-rated
    assert len(pd.read_csv(out / "progress.csv")) == 3


def test_ppo_with_classes_says_it_ignores_them(tmp_path, capsys):
    from rbrl_ray.train import build_parser, spec_from_args

    args = build_parser().parse_args(
        ["--env", "cartpole-balance", "--method", "ppo", "--classes", "4",
         "--timesteps", "1000", "--out", str(tmp_path / "ppo")]
    )  # fmt: skip
    spec = spec_from_args(args)
    note = capsys.readouterr().err
    assert "method 'ppo' trains on the env reward and ignores --classes" in note
    assert spec.method == "ppo" and spec.classes is None and not spec.learns_reward


def test_existing_trial_directory_is_not_overwritten(tmp_path):
    (tmp_path / "trial" / "checkpoint").mkdir(parents=True)
    run = _train(*BASE, "--out", str(tmp_path / "trial"), timeout=120)
    assert run.returncode == 2 and "already holds a trial" in run.stderr
