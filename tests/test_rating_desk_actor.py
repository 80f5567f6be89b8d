"""The cluster's rating desk as a Ray actor: one page for several trials, each
segment with its own task and scale, and every answer on disk for the next desk."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest
import ray
from rich.console import Console

from rbrl_ray.feedback.scripted import collect_segments
from rbrl_ray.human.online import HumanRater
from rbrl_ray.human.status import show_status
from tests.rating_page_helpers import video_frames

pytestmark = pytest.mark.slow


def answer_all(desk_root, ratings: dict[str, int]) -> list[tuple[str, str, int]]:
    """Rate whatever the page shows with `ratings[env]`; returns (env, id, classes)."""
    page = json.loads((desk_root / "page.json").read_text())
    shown = []
    headers = {"X-Rating-Token": page["token"]}
    with httpx.Client(base_url=page["url"], timeout=60, headers=headers) as client:
        while (waiting := client.get("/api/next").json())["segment_id"] is not None:
            shown.append((waiting["env"], waiting["segment_id"], waiting["classes"]))
            if len(shown) == 1 or shown[-1][0] != shown[-2][0]:  # a video of each task
                video = client.get(waiting["video"])  # the desk chose its own GL backend
                assert video.status_code == 200, video.text
                assert len(frames := video_frames(video.content)) == 50
                assert all(f.std() > 5 for f in frames)
            body = {"segment_id": waiting["segment_id"], "rating": ratings[waiting["env"]],
                    "response_s": 1.0}  # fmt: skip
            response = client.post("/api/ratings", json=body)
            assert response.status_code == 200, response.text
    return shown


def test_two_trials_queue_into_one_page_and_a_new_desk_keeps_their_answers(ray_local, tmp_path):
    from rbrl_ray.human.desk_service import stop_desk

    root = tmp_path / "desk"
    cartpole = collect_segments("cartpole-balance", 3, seed=0, physics_states=True)
    walker = collect_segments("walker-walk", 2, seed=0, physics_states=True)
    a = HumanRater("trial_a", "cartpole-balance", 3, root, "127.0.0.1", 0)
    b = HumanRater("trial_b", "walker-walk", 5, root, "127.0.0.1", 0)
    assert a.url == b.url  # one desk, one page
    try:
        ray.get(a.desk.submit.remote(cartpole, "trial_a", "cartpole-balance", 3))
        ray.get(b.desk.submit.remote(walker, "trial_b", "walker-walk", 5))
        shown = answer_all(root, {"cartpole-balance": 2, "walker-walk": 4})
        assert [(env, classes) for env, _, classes in shown] == [
            ("cartpole-balance", 3)] * 3 + [("walker-walk", 5)] * 2  # fmt: skip

        # each trial gets its own answers, none of the other's
        got_a = a.rate(cartpole, 3, used=set())
        got_b = b.rate(walker, 2, used=set())
        assert got_a.asked == got_b.asked == 0  # all answered already: nothing new asked
        assert got_a.labels.tolist() == [2, 2, 2] and got_b.labels.tolist() == [4, 4]
        assert np.array_equal(got_b.segments.obs, walker.obs)
        assert set(got_a.annotations["annotator"]) == {"annotator"}  # the page token's

        # the organiser's view of the desk: one table per trial's queue
        statuses = show_status(root, Console(file=io.StringIO()))
        assert [(s.folder.name, s.env, s.classes) for s in statuses] == [
            ("trial_a", "cartpole-balance", 3), ("trial_b", "walker-walk", 5)
        ]  # fmt: skip
        assert [[(a.name, a.rated) for a in s.annotators] for s in statuses] == [
            [("annotator", 3)], [("annotator", 2)]
        ]  # fmt: skip
    finally:
        stop_desk()

    # a new desk on the same root finds every answer and asks none of them again
    again = HumanRater("trial_a", "cartpole-balance", 3, root, "127.0.0.1", 0)
    try:
        answers = again.rate(cartpole, 3, used=set())
        assert answers.asked == 0 and answers.labels.tolist() == [2, 2, 2]
        ray.get(again.desk.submit.remote(cartpole, "trial_a", "cartpole-balance", 3))
        assert answer_all(root, {}) == []  # nothing was queued again
    finally:
        stop_desk()
