"""Damaged files: every reader of our files fails with one line naming the file, what
is wrong and what to do (exit 2, no traceback), never changes or deletes anything,
and where it makes sense lets the user go on without the damaged file
(--skip-damaged), listing what it left out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rbrl_ray import checkpoints
from rbrl_ray.feedback.segments import Segments
from rbrl_ray.feedback.store import RatedStore
from rbrl_ray.jsonio import DamagedFile, read_json_lines

REPO = Path(__file__).resolve().parent.parent
RECORDS = sorted((REPO / "results" / "campaign" / "trials").glob("*.json"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def one_error_line(done: subprocess.CompletedProcess, *expected: str) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in done.stdout + done.stderr, done.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def cut(path: Path, keep: float = 0.5) -> bytes:
    """Truncate `path` to a fraction of its bytes; returns the bytes it holds now."""
    data = path.read_bytes()[: int(path.stat().st_size * keep)]
    path.write_bytes(data)
    return data


@pytest.fixture
def campaign(tmp_path) -> Path:
    """A campaign folder holding copies of three committed records."""
    assert len(RECORDS) >= 3, "the committed campaign records are missing"
    folder = tmp_path / "campaign"
    (folder / "trials").mkdir(parents=True)
    for record in RECORDS[:3]:
        shutil.copy(record, folder / "trials" / record.name)
    return folder


def test_a_cut_campaign_record_is_one_line_and_skip_damaged_reports_the_rest(campaign):
    damaged = sorted((campaign / "trials").glob("*.json"))[1]
    left = cut(damaged)
    line = one_error_line(run("-m", "rbrl_ray.report", str(campaign)), str(damaged))
    assert "damaged trial record" in line and "--skip-damaged" in line
    assert damaged.read_bytes() == left and not (campaign / "RESULTS.md").exists()

    done = run("-m", "rbrl_ray.report", str(campaign), "--skip-damaged")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"skipped: {damaged}: damaged trial record" in done.stdout
    assert (campaign / "RESULTS.md").stat().st_size > 0
    assert damaged.read_bytes() == left  # listed, never changed


def test_a_record_that_is_json_but_not_a_record_is_named(campaign):
    damaged = sorted((campaign / "trials").glob("*.json"))[0]
    damaged.write_text('{"spec": {"env": "cartpole-balance"}}')
    line = one_error_line(run("-m", "rbrl_ray.report", str(campaign)), str(damaged))
    assert "not a trial record" in line


def tune_trial(folder: Path, record: Path) -> Path:
    """A Tune trial folder (params.json, result.json) made from a campaign record."""
    data = json.loads(record.read_text())
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(
        json.dumps({"learner_config_dict": {"rbrl_spec": data["spec"]}})
    )
    rows = [{key: value for key, value in row.items()} for row in data["iterations"]]
    nested = []
    for row in rows:
        out: dict = {}
        for key, value in row.items():
            *parents, leaf = key.split("/")
            node = out
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = value
        nested.append(json.dumps(out))
    (folder / "result.json").write_text("\n".join(nested) + "\n")
    return folder


def test_tune_files_cut_mid_line(tmp_path):
    storage = tmp_path / "sweep"
    first = tune_trial(storage / "a", RECORDS[0])
    second = tune_trial(storage / "b", RECORDS[1])
    # a result line cut by a kill mid-write: the trial's other iterations are used
    result = second / "result.json"
    lines = result.read_text().splitlines()
    result.write_text("\n".join(lines) + "\n" + lines[-1][: len(lines[-1]) // 2])
    rows, was_cut = read_json_lines(result, "Tune result file", "")
    assert was_cut and len(rows) == len(lines)
    done = run("-m", "rbrl_ray.report", str(storage))
    assert done.returncode == 0, done.stderr[-2000:]
    # a line cut anywhere but at the end is damage
    result.write_text("\n".join([lines[0][:20], *lines[1:]]) + "\n")
    line = one_error_line(run("-m", "rbrl_ray.report", str(storage)), str(result))
    assert "line 1" in line
    # so is a params.json cut mid-line
    result.write_text("\n".join(lines) + "\n")
    cut(first / "params.json")
    one_error_line(
        run("-m", "rbrl_ray.report", str(storage)), str(first / "params.json"), "damaged"
    )
    done = run("-m", "rbrl_ray.report", str(storage), "--skip-damaged")
    assert done.returncode == 0 and f"skipped: {first / 'params.json'}" in done.stdout


def test_campaign_rerun_of_a_cut_record_is_one_line(campaign):
    damaged = sorted((campaign / "trials").glob("*.json"))[0]
    cut(damaged)
    done = run(
        "-m", "rbrl_ray.campaign", "--config", "tune_configs/campaign.yaml",
        "--records", str(campaign.parent), "--rerun", damaged.stem,
    )  # fmt: skip
    one_error_line(done, str(damaged), "damaged trial record")


def tiny_store(root: Path, files: int = 3) -> RatedStore:
    store = RatedStore(root)
    rng = np.random.default_rng(0)
    for _ in range(files):
        segments = Segments(
            rng.normal(size=(4, 50, 5)).astype(np.float32),
            rng.normal(size=(4, 50, 1)).astype(np.float32),
            rng.random(size=(4, 50)).astype(np.float32),
        )
        store.append(segments, rng.integers(0, 3, size=4))
    return store


def test_a_cut_store_file_names_itself_and_skip_damaged_keeps_the_rest(tmp_path):
    store = tiny_store(tmp_path / "store")
    damaged = sorted(store.root.glob("ratings_*.npz"))[1]
    left = cut(damaged)
    done = run("-m", "rbrl_ray.reward_bench", "--rated-store", str(store.root), "--classes", "3")
    one_error_line(done, str(damaged), "damaged rated-store file", "--skip-damaged")
    assert damaged.read_bytes() == left
    skipping = RatedStore(store.root, skip_damaged=True)
    segments, labels = skipping.load()
    assert len(labels) == 8 and skipping.skipped == [damaged]


def test_a_full_disk_leaves_no_partial_store_file(tmp_path):
    store = tiny_store(tmp_path / "store", files=1)
    script = f"""
import resource, numpy as np
from rbrl_ray.feedback.segments import Segments
from rbrl_ray.feedback.store import RatedStore
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
big = Segments(np.zeros((40, 50, 5), np.float32), np.zeros((40, 50, 1), np.float32),
               np.zeros((40, 50), np.float32))
try:
    RatedStore({str(store.root)!r}).append(big, np.zeros(40, np.int64))
except OSError as err:
    print("refused:", err.errno)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert "refused: 27" in done.stdout, done.stdout + done.stderr  # EFBIG
    assert sorted(p.name for p in store.root.iterdir()) == ["ratings_000000.npz"]
    assert len(store) == 4


def checkpoint_like(trial: Path, record: Path) -> Path:
    """A `train` trial folder whose checkpoint files are stand-ins (enough for the
    checks a resume runs before Ray starts)."""
    trial.mkdir()
    spec = json.loads(record.read_text())["spec"]
    (trial / "spec.json").write_text(json.dumps(spec))
    checkpoint = trial / "checkpoint"
    checkpoint.mkdir()
    import pickle

    state = {"rating_service": {"ratings": {"labels": [1], "obs": [0]}, "trainer": {}}}
    (checkpoint / "algorithm_state.pkl").write_bytes(pickle.dumps(state))
    (checkpoint / "rllib_checkpoint.json").write_text('{"type": "Algorithm"}')
    return checkpoint


def test_train_resume_names_the_damaged_checkpoint_file(tmp_path):
    record = next(r for r in RECORDS if "_ours_" in r.name)
    checkpoint = checkpoint_like(tmp_path / "trial", record)
    state = checkpoint / "algorithm_state.pkl"
    checkpoints.check(checkpoint, needs_service=True)  # the stand-in itself passes
    cut(state)
    done = run("-m", "rbrl_ray.train", "--resume", str(tmp_path / "trial"))
    one_error_line(done, str(state), "damaged checkpoint file", "ratings/ folder")
    state.unlink()
    done = run("-m", "rbrl_ray.train", "--resume", str(tmp_path / "trial"))
    one_error_line(done, "algorithm_state.pkl is missing")
    cut(tmp_path / "trial" / "spec.json")
    done = run("-m", "rbrl_ray.train", "--resume", str(tmp_path / "trial"))
    one_error_line(done, str(tmp_path / "trial" / "spec.json"), "damaged trial spec")


def test_a_checkpoint_without_ratings_is_refused_for_a_reward_method(tmp_path):
    record = next(r for r in RECORDS if "_ours_" in r.name)
    checkpoint = checkpoint_like(tmp_path / "trial", record)
    import pickle

    (checkpoint / "algorithm_state.pkl").write_bytes(pickle.dumps({"other": 1}))
    with pytest.raises(DamagedFile, match="holds no rating service state"):
        checkpoints.check(checkpoint, needs_service=True)
    checkpoints.check(checkpoint, needs_service=False)  # ppo: nothing to miss


def test_an_interrupted_checkpoint_swap_is_completed_and_a_lone_new_one_is_not(tmp_path):
    trial = tmp_path / "trial"
    (trial / "checkpoint.new").mkdir(parents=True)
    (trial / "checkpoint.new" / "mark").write_text("new")
    assert checkpoints.finish_interrupted_save(trial) is None  # may be half-written
    (trial / "checkpoint.old").mkdir()
    assert "checkpoint.new -> checkpoint" in checkpoints.finish_interrupted_save(trial)
    assert (trial / "checkpoint" / "mark").read_text() == "new"
    assert sorted(p.name for p in trial.iterdir()) == ["checkpoint"]
