"""A person in the training loop: a tiny `train --rater human` trial whose queries
the test answers through the rating page's HTTP API, as a person would. The trial
fits on those ratings and checkpoints, is killed in the middle of a query, resumes,
and asks for no rating twice: every rating given ends up in the trial's ratings
exactly once, and the page never shows a segment that was already answered."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rbrl_ray.feedback.segments import segment_ids
from rbrl_ray.feedback.store import RatedStore, lineages
from rbrl_ray.trial_summary import read_summary
from tests.user_env import users_environment

pytestmark = pytest.mark.slow

PER_QUERY, TOTAL = 4, 8


def train(out: Path, log: Path, *extra: str) -> subprocess.Popen:
    """`train --rater human`: query 1 at 1,000 env steps (iteration 1), query 2 at 2,000."""
    args = extra or (
        "--env", "cartpole-balance", "--method", "ours", "--classes", "3", "--preset", "small",
        "--timesteps", "4000", "--out", str(out), "--explore-steps", "1000",
        "--query-every", "1000", "--per-query", str(PER_QUERY), "--total-ratings", str(TOTAL),
        "--checkpoint-every", "1", "--eval-episodes", "0",
    )  # fmt: skip
    env = users_environment(WANDB_MODE="disabled")  # no MUJOCO_GL, as a user has
    with open(log, "w") as handle:  # a file, not a pipe nobody reads while the test rates
        return subprocess.Popen(
            [sys.executable, "-m", "rbrl_ray.train", *args, "--rater", "human", "--rating-port",
             "0"], env=env, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip


class Person:
    """Answers whatever the page shows, and remembers every segment it was shown."""

    def __init__(self, desk: Path) -> None:
        self.desk = desk
        self.shown: list[str] = []
        self.page: tuple[str, str] | None = None

    def connect(self, since: float) -> bool:
        path = self.desk / "page.json"
        if not path.exists() or path.stat().st_mtime < since:
            return False
        page = json.loads(path.read_text())
        self.page = (page["url"], page["token"])
        return True

    def rate_one(self) -> bool:
        url, token = self.page
        with httpx.Client(base_url=url, timeout=60) as client:
            waiting = client.get("/api/next", headers={"X-Rating-Token": token}).json()
            segment = waiting["segment_id"]
            if segment is None:
                return False
            assert segment not in self.shown, "the page showed an answered segment again"
            self.shown.append(segment)
            body = {"segment_id": segment, "rating": int(segment, 16) % 3, "response_s": 1.0}
            answer = client.post("/api/ratings", json=body, headers={"X-Rating-Token": token})
            assert answer.status_code == 200, answer.text
        return True


def play(person: Person, process: subprocess.Popen, started: float, stop_after: int | None):
    """Rate until `stop_after` ratings in all (then return) or the trial ends."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return
        if person.page is None and not person.connect(started):
            time.sleep(0.5)
            continue
        if stop_after is not None and len(person.shown) >= stop_after:
            return
        try:
            if not person.rate_one():
                time.sleep(0.3)
        except httpx.TransportError:  # the trial ended and took its page with it
            time.sleep(0.5)
    raise AssertionError("the trial did not finish in 10 minutes")


def test_a_person_trains_the_reward_model_and_a_restart_asks_nothing_twice(tmp_path):
    out = tmp_path / "trial"
    person = Person(out / "rating_desk")

    first = train(out, tmp_path / "first.log")
    # every rating of query 1 (its fit and checkpoint follow), and half of query 2
    play(person, first, time.time() - 5, stop_after=PER_QUERY + PER_QUERY // 2)
    assert (out / "checkpoint").is_dir(), (tmp_path / "first.log").read_text()[-3000:]
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)

    person.page = None
    resumed = train(out, tmp_path / "resumed.log", "--resume", str(out))
    play(person, resumed, time.time(), stop_after=None)
    assert resumed.wait(timeout=120) == 0, (tmp_path / "resumed.log").read_text()[-3000:]

    # 8 ratings given in all: the 2 given after the checkpoint were used, not asked again
    assert len(person.shown) == TOTAL and len(set(person.shown)) == TOTAL
    segments, labels = RatedStore(lineages(out / "ratings")[-1]).load()
    assert sorted(segment_ids(segments)) == sorted(person.shown)
    assert labels.tolist() == [int(s, 16) % 3 for s in segment_ids(segments)]
    # attributed by the page's token (the desk's first annotator), not by a typed name
    assert set(RatedStore(lineages(out / "ratings")[-1]).annotations()["annotator"]) == {
        "annotator"
    }
    result = read_summary(out)
    assert result["ratings"] == TOTAL and result["reward_model"]["version"] >= 2
    # each iteration once: the first run's rows after its checkpoint were moved aside
    with open(out / "progress.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["iteration"]) for r in rows] == list(range(1, len(rows) + 1))
    assert [c["steps"] for c in result["curve"]] == [int(r["steps"]) for r in rows]
