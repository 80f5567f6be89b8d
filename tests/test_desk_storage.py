"""The rating desk's record. With remote storage it is kept in the bucket: a desk
whose node and disk are lost comes back (Ray restarts it) from storage alone, with
every answer given and every segment a trial still waits for back on the page, and
nothing answered is shown again. And a trial told that nothing waits has every
answer (a race the cluster rehearsal found)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import httpx
import numpy as np
import pytest
import ray

from rbrl_ray.feedback.scripted import collect_segments
from rbrl_ray.feedback.segments import segment_ids
from rbrl_ray.human.desk import RatingDesk
from rbrl_ray.human.desk_files import DeskFiles, desk_folders
from rbrl_ray.human.desk_record import DeskRecord
from rbrl_ray.human.online import HumanRater
from tests.s3_server import ACCESS, start_s3_server
from tests.test_rating_desk import segments as random_segments

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_and_ray():
    """An S3 server, and a local Ray whose workers have its credentials."""
    before = {k: os.environ.get(k) for k in ACCESS}
    os.environ.update(ACCESS)
    server = start_s3_server()
    ray.shutdown()  # the session's Ray, if one runs: this one's workers need the keys
    ray.init(num_cpus=2, include_dashboard=False)
    yield server
    ray.shutdown()
    server.stop()
    for key, value in before.items():
        os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def stored_json(s3, path: str) -> dict:
    with s3.filesystem().open_input_stream(f"{s3.bucket}/{path}") as handle:
        return json.loads(handle.read())


def answer(s3, desk: str, count: int) -> list[str]:
    """Rate `count` segments (class: id mod 3) on the page named by page.json in the
    bucket, as a person would who opened the link the desk left there."""
    page = stored_json(s3, f"{desk}/page.json")
    shown = []
    with httpx.Client(base_url=page["url"], timeout=60,
                      headers={"X-Rating-Token": page["token"]}) as client:  # fmt: skip
        for _ in range(count):
            segment = client.get("/api/next").json()["segment_id"]
            if segment is None:
                break
            shown.append(segment)
            body = {"segment_id": segment, "rating": int(segment, 16) % 3, "response_s": 1.0}
            assert client.post("/api/ratings", json=body).status_code == 200
    return shown


def test_waiting_batches_reach_storage_and_a_withdrawn_queue_leaves_none(s3_and_ray, tmp_path):
    s3 = s3_and_ray
    segments = collect_segments("cartpole-balance", 2, seed=1, physics_states=True)
    files = DeskFiles(tmp_path / "desk", s3.uri("unit/rating_desk"))
    queue = tmp_path / "desk" / "queues" / "t"
    files.save_waiting(queue, segments, "cartpole-balance", 3)
    stored = f"{s3.bucket}/unit/rating_desk/queues/t/waiting/000000.npz"
    assert s3.files("unit/rating_desk") == [stored]
    # a new working copy (another node) starts from storage's, not from what was local
    shutil.rmtree(tmp_path / "desk")
    (tmp_path / "desk").mkdir()
    (tmp_path / "desk" / "stale.txt").write_text("left by an earlier desk on this disk")
    again = DeskFiles(tmp_path / "desk", s3.uri("unit/rating_desk"))
    (batch,) = again.waiting(queue)
    assert (batch.env, batch.classes) == ("cartpole-balance", 3)
    assert segment_ids(batch.segments) == segment_ids(segments)
    assert np.array_equal(batch.segments.states, segments.states)
    assert not (tmp_path / "desk" / "stale.txt").exists()
    again.drop_waiting(queue)
    assert s3.files("unit/rating_desk") == [] and list(again.waiting(queue)) == []


def test_a_desk_whose_node_is_lost_comes_back_from_the_bucket(s3_and_ray):
    from rbrl_ray.human.desk_service import stop_desk

    s3 = s3_and_ray
    where = s3.uri("runs/h/rating_desk")
    segments = collect_segments("cartpole-balance", 4, seed=0, physics_states=True)
    rater = HumanRater("trial_a", "cartpole-balance", 3, where, "127.0.0.1", 0)
    try:
        ray.get(rater.desk.submit.remote(segments, "trial_a", "cartpole-balance", 3))
        first = answer(s3, "runs/h/rating_desk", 2)
        labels_log = [p for p in s3.files("runs/h") if p.endswith("labels.jsonl")]
        assert len(first) == 2 and len(labels_log) == 1  # each answer is in the bucket

        # the node goes for good, and its disk with it; the trial, waiting for the
        # query's two other answers, finds the desk gone and starts it again
        shutil.rmtree(desk_folders(where)[0])
        old_page = stored_json(s3, "runs/h/rating_desk/page.json")["url"]
        ray.kill(rater.desk, no_restart=True)
        got = {}
        waiting = threading.Thread(target=lambda: got.update(a=rater.rate(segments, 4, set())))
        waiting.start()
        deadline = time.monotonic() + 120
        while stored_json(s3, "runs/h/rating_desk/page.json")["url"] == old_page:
            assert time.monotonic() < deadline, "the desk did not come back"
            time.sleep(0.2)
        after = answer(s3, "runs/h/rating_desk", 10)  # page.json names the new page
        assert sorted(first + after) == sorted(segment_ids(segments))  # none shown twice

        waiting.join(timeout=120)
        answers = got["a"]  # all four: two from storage, two asked before the loss
        assert answers.asked == 0
        assert sorted(segment_ids(answers.segments)) == sorted(segment_ids(segments))
        assert answers.labels.tolist() == [int(s, 16) % 3 for s in segment_ids(answers.segments)]
    finally:
        stop_desk()


def test_a_trial_told_nothing_waits_has_every_answer(tmp_path):
    """A trial's poll read the answers, then the query's last rating finished (its
    upload took a while), then 0 pending: the trial took 9 of 10 ratings. The record
    counts what waits first, so the rating being written is waited for."""
    files = DeskFiles(tmp_path / "desk")
    record = DeskRecord(files)
    uploading, uploaded = threading.Event(), threading.Event()

    def slow_upload(path) -> None:  # the label log's upload, inside the desk's lock
        uploading.set()
        uploaded.wait(timeout=30)

    files.keep = slow_upload
    desk = RatingDesk(record.write_rating, on_answer=record.write_answer)
    (segment_id,) = desk.submit(random_segments(1), "trial", "cartpole-balance", 3)
    rating = threading.Thread(target=desk.rate, args=(segment_id, 2, "ada", 1.0))
    rating.start()
    assert uploading.wait(timeout=30)
    polled: dict = {}
    poll = threading.Thread(target=lambda: polled.update(record.answers("trial", desk.pending_in)))
    poll.start()
    time.sleep(0.3)  # the poll is under way while the rating is being written
    uploaded.set()
    rating.join(timeout=30), poll.join(timeout=30)
    assert polled["waiting"] == [] and polled["rated"][1].tolist() == [2]
