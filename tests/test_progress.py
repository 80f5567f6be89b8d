"""progress.csv across a kill and a resume: each iteration once, nothing thrown away."""

from __future__ import annotations

import pandas as pd

from rbrl_ray import metric_names as m
from rbrl_ray import progress


def _run(out, iterations, cut_last=False):
    """Append rows as `train` does; optionally cut the last one as a kill would."""
    path = out / progress.PROGRESS_FILE
    for i in iterations:
        result = {m.ITERATION: i, m.NUM_RATINGS: 10 * i}
        point = {"steps": 1000 * i, "true_return": 100.0 + i, "eval_return": None}
        progress.append(path, result, point)
    if cut_last:
        text = path.read_text()
        path.write_text(text[: text.rstrip("\n").rfind(",")])
    return path


def test_resume_moves_rows_after_the_checkpoint_aside_and_returns_the_kept_curve(tmp_path):
    path = _run(tmp_path, range(1, 6), cut_last=True)  # killed while writing row 5
    original_rows = path.read_text().splitlines()[1:]

    curve = progress.resume(tmp_path, restored_iteration=3)

    assert curve == [
        {"steps": 1000 * i, "true_return": 100.0 + i, "eval_return": None} for i in (1, 2, 3)
    ]
    kept = pd.read_csv(path)
    assert list(kept.columns) == list(progress.COLUMNS)
    assert kept["iteration"].tolist() == [1, 2, 3]
    abandoned = (tmp_path / progress.ABANDONED_FILE).read_text().splitlines()
    assert abandoned == original_rows[3:]  # row 4 and the cut row 5, verbatim

    # the resumed run appends its own iterations 4 and 5: one row per iteration
    _run(tmp_path, (4, 5))
    assert pd.read_csv(path)["iteration"].tolist() == [1, 2, 3, 4, 5]


def test_resume_of_a_finished_trial_keeps_everything(tmp_path):
    path = _run(tmp_path, (1, 2))
    before = path.read_bytes()
    curve = progress.resume(tmp_path, restored_iteration=2)
    assert [c["steps"] for c in curve] == [1000, 2000]
    assert path.read_bytes() == before
    assert not (tmp_path / progress.ABANDONED_FILE).exists()


def test_resume_without_a_checkpoint_moves_every_row_aside(tmp_path):
    """A trial killed before its first checkpoint starts its policy over."""
    _run(tmp_path, (1, 2))
    assert progress.resume(tmp_path, restored_iteration=0) == []
    assert len((tmp_path / progress.ABANDONED_FILE).read_text().splitlines()) == 2
    assert pd.read_csv(tmp_path / progress.PROGRESS_FILE).empty


def test_resume_with_no_progress_file_has_no_curve(tmp_path):
    assert progress.resume(tmp_path, restored_iteration=4) == []
    assert not (tmp_path / progress.ABANDONED_FILE).exists()
