"""The report CLI and the analysis notebook on results of a real tiny sweep."""

import json
import math
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from tests.sweep_helpers import sweep_command, write_sweep

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """2 methods x 2 seeds on cartpole at a small budget, through the real sweep CLI."""
    root = tmp_path_factory.mktemp("tiny")
    config = write_sweep(
        root,
        "tiny",
        methods=["ppo", "ours"],
        seeds=2,
        timesteps=3000,
        checkpoint_every=3,
        schedule={"explore_steps": 1000, "every": 1000, "per_query": 10, "total": 30},
    )
    run = subprocess.run(
        sweep_command(config, root / "storage"), capture_output=True, text=True, timeout=1200
    )
    assert run.returncode == 0, run.stdout[-3000:]
    return root / "storage" / "tiny"


def _final_return(trial: Path) -> float:
    returns = [
        row["env_runners"].get("episode_return_mean", math.nan)
        for row in map(json.loads, (trial / "result.json").read_text().splitlines())
    ]
    returns = [r for r in returns if not math.isnan(r)]
    return returns[-1]


def test_report_files_and_numbers_match_the_trials(tiny_sweep, tmp_path):
    out = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "-m", "rbrl_ray.report", str(tiny_sweep), "--out", str(out), "--wandb"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for name in (
        "summary.csv",
        "fig2_methods.png",
        "reward_model.png",
        "curves_cartpole-balance.png",
        "report.md",
    ):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "fig3_ablation.png").exists()  # one of its four methods: nothing to compare
    assert list((out / "wandb").glob("offline-run-*")), "no W&B run for the report"

    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["method"]) == {"ppo", "ours"} and set(summary["seeds"]) == {2}
    assert (summary["classes"] == 3).all()  # ppo stands in the sweep's class count
    by_method: dict[str, list[float]] = {}
    for trial in tiny_sweep.iterdir():
        if (trial / "params.json").exists():
            params = json.loads((trial / "params.json").read_text())
            method = params["learner_config_dict"]["rbrl_spec"]["method"]
            by_method.setdefault(method, []).append(_final_return(trial))
    for method, finals in by_method.items():
        row = summary[summary["method"] == method].iloc[0]
        assert row["return_mean"] == pytest.approx(np.mean(finals), rel=1e-9)
        assert row["return_se"] == pytest.approx(np.std(finals, ddof=1) / np.sqrt(2), rel=1e-9)
    text = (out / "report.md").read_text()
    assert "![" in text and "Nothing: the grid is complete." in text


def test_partial_sweep_is_reported_not_crashed(tiny_sweep, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    trials = sorted(p for p in tiny_sweep.iterdir() if (p / "params.json").exists())
    for trial in trials[:-1]:  # one trial gone: a seed missing
        (partial / trial.name).mkdir()
        for name in ("params.json", "result.json"):
            (partial / trial.name / name).write_bytes((trial / name).read_bytes())
    cut = partial / trials[0].name / "result.json"  # and one still running
    cut.write_text(cut.read_text().splitlines()[0] + "\n")
    run = subprocess.run(
        [sys.executable, "-m", "rbrl_ray.report", str(partial)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "missing: still running or stopped early" in run.stdout
    assert "missing: no finished result for cartpole-balance" in run.stdout
    assert "## Missing" in (partial / "report" / "report.md").read_text()


def test_report_of_a_folder_without_trials_is_one_line_exit_2(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "rbrl_ray.report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "no trials in" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_notebook_runs_top_to_bottom(tiny_sweep, tmp_path, monkeypatch):
    monkeypatch.setenv("RBRL_STORAGE_DIR", str(tiny_sweep))
    monkeypatch.setenv("RBRL_REPORT_DIR", str(tmp_path / "nb_report"))
    notebook = nbformat.read(REPO / "notebooks" / "results.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4
    assert (tmp_path / "nb_report" / "summary.csv").exists()
    # the per-method table is the frozen policy's evaluation, under a heading saying so
    heading = next(c.source for c in notebook.cells if c.source.startswith("## Final"))
    assert heading.startswith("## Final evaluation return")
    table = next(c for c in notebook.cells if "pivot_table" in c.source)
    assert 'values="eval_mean"' in table.source
    texts = [o.get("text", "") for o in outputs if o.output_type == "stream"]
    assert any("varied no setting" in t for t in texts)  # the tiny sweep varies none
