"""scripts/commit_records.sh: each new record its own commit, its figures in the message."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
V2 = REPO / "results" / "campaign_v2" / "trials"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def test_each_new_record_is_committed_alone_with_what_it_measured(tmp_path):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "commit_records.sh", repo / "scripts")
    trials = repo / "results" / "camp" / "trials"
    trials.mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.org")
    _git(repo, "config", "user.name", "t")
    (repo / "work_in_progress.txt").write_text("not a record")
    _git(repo, "add", "scripts")
    _git(repo, "commit", "-q", "-m", "start")
    ppo, ours = (
        sorted(V2.glob("cartpole-balance_ppo_s1_*"))[0],
        sorted(V2.glob("cartpole-balance_ours_c3_s1_*"))[0],
    )
    shutil.copy(ppo, trials)
    shutil.copy(ours, trials)
    _git(repo, "add", "work_in_progress.txt")  # staged, yet not part of a record's commit

    subprocess.run(["bash", "scripts/commit_records.sh", "results/camp"], cwd=repo, check=True,
                   env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable})  # fmt: skip

    log = _git(repo, "log", "--format=%s", "-2").splitlines()
    expected = []
    for n, record in enumerate(sorted([ours, ppo]), start=1):
        data = json.loads(record.read_text())
        last = data["iterations"][-1]
        spec = data["spec"]
        classes = "" if spec["classes"] is None else f", {spec['classes']} classes"
        expected.append(
            f"camp record {n}: cartpole-balance {spec['method']}{classes}, seed 1: final "
            f"evaluation {last['evaluation/env_runners/episode_return_mean']:.1f} at "
            "1,008,000 steps (pinned commit)"
        )
    assert log == expected[::-1]
    for commit in ("HEAD", "HEAD~1"):
        changed = _git(repo, "show", "--name-only", "--format=", commit).split()
        assert len(changed) == 1 and changed[0].startswith("results/camp/trials/")
    assert "work_in_progress.txt" in _git(repo, "diff", "--cached", "--name-only")


def test_a_folder_without_trials_is_one_line_exit_2(tmp_path):
    run = subprocess.run(["bash", str(REPO / "scripts" / "commit_records.sh"), "results/nope"],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2
    assert "results/nope" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_a_rerun_of_a_superseded_record_says_so_and_what_the_first_run_ended_at(tmp_path):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "commit_records.sh", repo / "scripts")
    camp = repo / "results" / "camp"
    (camp / "trials").mkdir(parents=True)
    (camp / "superseded").mkdir()
    record = sorted(V2.glob("cartpole-balance_ours_c3_s1_*"))[0]
    first = json.loads(record.read_text())
    first["iterations"][-1]["evaluation/env_runners/episode_return_mean"] = 123.45
    (camp / "superseded" / record.name).write_text(json.dumps(first))
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.org")
    _git(repo, "config", "user.name", "t")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "start")
    shutil.copy(record, camp / "trials")

    subprocess.run(["bash", "scripts/commit_records.sh", "results/camp"], cwd=repo, check=True,
                   env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable})  # fmt: skip

    (subject,) = _git(repo, "log", "--format=%s", "-1").splitlines()
    assert subject.startswith("camp record 1: cartpole-balance ours, 3 classes, seed 1: final")
    assert subject.endswith("; rerun of the superseded record (which ended at 123.5)")
