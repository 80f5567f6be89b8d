"""The rating page's API, against the real `python -m rbrl_ray.rate` on loopback:
every bad input is a 4xx with a message and changes nothing; good ratings reach
the store, with annotator and times, before the page hears back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rbrl_ray.feedback.store import RatedStore
from tests.rating_page_helpers import TOKEN, start_session, video_frames
from tests.user_env import users_environment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    running = start_session(tmp_path_factory.mktemp("rated"))
    yield running
    running.stop()


def next_id(session) -> str:
    with session.client() as c:
        return c.get("/api/next").json()["segment_id"]


def rating(segment_id, value=1, **change):
    return {"segment_id": segment_id, "rating": value, "response_s": 2.5, **change}


def test_the_page_and_each_segment_come_with_the_task_and_scale(session):
    with session.client() as c:
        page = c.get("/")
        info = c.get("/api/next").json()
        progress = c.get("/api/progress").json()
    assert page.status_code == 200 and "Rate each clip" in page.text
    assert info["env"] == "cartpole-balance" and info["classes"] == 3
    assert "pole" in info["instructions"]
    assert info["labels"] == ["0: very bad", "1", "2: very good"]
    assert progress == info["progress"] == {"rated": 0, "skipped": 0, "pending": 12}


def test_a_segment_video_is_served_by_id_and_decodes_to_its_50_frames(session):
    """The page was started with no MUJOCO_GL (as a user starts it): the video a
    browser downloads decodes to 50 frames of a picture, not one colour."""
    segment_id = next_id(session)
    with session.client() as c:
        response = c.get(f"/videos/{segment_id}.webm")
    assert response.status_code == 200 and response.headers["content-type"] == "video/webm"
    frames = video_frames(response.content)
    assert len(frames) == 50
    assert all(f.std() > 5 for f in frames)  # a rendered scene, not a blank frame
    cached = session.out / "videos" / "cartpole-balance" / f"{segment_id}.webm"
    assert cached.read_bytes() == response.content  # cached beside the store


def test_the_suite_does_not_choose_a_gl_backend_for_the_page():
    """The page tests run `rate` as a user does; a MUJOCO_GL in the suite's own
    environment (a CI setting, a developer's shell) would hide the path users take."""
    suite_setting = os.environ.get("RBRL_TEST_SUITE_MUJOCO_GL")
    assert suite_setting == "", f"unset MUJOCO_GL (the suite runs with {suite_setting!r})"
    assert "MUJOCO_GL" not in users_environment()


NO_RENDERING_COMMANDS = {
    "rate": ["rbrl_ray.rate", "--segments", "scripted", "--env", "cartpole-balance",
             "--classes", "3", "--count", "2"],
    "train --rater human": ["rbrl_ray.train", "--env", "cartpole-balance", "--method", "ours",
                            "--classes", "3", "--timesteps", "1000", "--rater", "human"],
}  # fmt: skip


@pytest.mark.parametrize("command", NO_RENDERING_COMMANDS)
def test_without_any_backend_that_renders_it_says_so_in_one_line_and_starts_nothing(
    tmp_path, command
):
    """EGL made unusable (no vendor library), no display, no OSMesa on this image."""
    env = users_environment(__EGL_VENDOR_LIBRARY_FILENAMES=str(tmp_path / "none.json"))
    env.pop("DISPLAY", None), env.pop("WAYLAND_DISPLAY", None)
    argv = [sys.executable, "-m", *NO_RENDERING_COMMANDS[command], "--out", str(tmp_path / "out")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "cannot render segments (tried egl, osmesa, glfw)" in done.stderr
    assert "MUJOCO_GL=egl: " in done.stderr and "apt-get install" in done.stderr
    assert "rate them at" not in done.stdout and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "path",
    [
        "/videos/0123456789abcdef.webm",  # a well-formed id nobody submitted
        "/videos/..%2F..%2Fsession.json",
        "/videos/..%2Fsession.webm",
        "/videos/%2Fetc%2Fpasswd.webm",
        "/videos/ABCDEF0123456789.webm",
    ],
)
def test_no_path_from_the_client_reaches_the_filesystem(session, path):
    with session.client() as c:
        response = c.get(path)
    assert response.status_code == 404
    assert b"classes" not in response.content and b"root:" not in response.content


BAD_BODIES = {
    "rating below 0": (lambda i: rating(i, -1), 422),
    "rating n": (lambda i: rating(i, 3), 422),
    "rating far out": (lambda i: rating(i, 99), 422),
    "rating as text": (lambda i: rating(i, "2"), 422),
    "rating fractional": (lambda i: rating(i, 1.5), 422),
    "rating boolean": (lambda i: rating(i, True), 422),
    "rating missing": (lambda i: {k: v for k, v in rating(i).items() if k != "rating"}, 422),
    "unknown field": (lambda i: rating(i, extra=1), 422),
    "no annotator": (lambda i: rating(i, annotator=""), 422),
    "negative response time": (lambda i: rating(i, response_s=-1), 422),
    "unknown segment": (lambda i: rating("0123456789abcdef"), 404),
    "malformed segment id": (lambda i: rating("../../etc/passwd"), 422),
    "not an object": (lambda i: [1, 2, 3], 422),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_a_bad_rating_is_refused_with_a_message_and_changes_nothing(session, case):
    make, status = BAD_BODIES[case]
    before, segment_id = session.store_files(), next_id(session)
    response = session.post("/api/ratings", make(segment_id))
    assert response.status_code == status
    assert response.json()["detail"]
    assert session.store_files() == before and next_id(session) == segment_id


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789", TOKEN + "x"])
def test_a_change_without_the_token_is_forbidden(session, token):
    before, segment_id = session.store_files(), next_id(session)
    for path, body in (("/api/ratings", rating(segment_id)), ("/api/skips", rating(segment_id))):
        response = session.post(path, body, token=token)
        assert response.status_code == 403 and "X-Rating-Token" in response.json()["detail"]
    assert session.store_files() == before and next_id(session) == segment_id


def test_malformed_and_oversized_bodies_are_refused(session):
    before = session.store_files()
    headers = {"X-Rating-Token": TOKEN, "Content-Type": "application/json"}
    with session.client() as c:
        broken = c.post("/api/ratings", content=b'{"segment_id": ', headers=headers)
        huge = c.post("/api/ratings", content=b"{" + b" " * 5000 + b"}", headers=headers)
    assert broken.status_code == 422 and broken.json()["detail"]
    assert huge.status_code == 413 and "at most" in huge.json()["detail"]
    assert session.store_files() == before


def test_a_rating_is_stored_with_its_annotation_and_never_taken_twice(session):
    segment_id = next_id(session)
    before = len(session.ratings())
    response = session.post("/api/ratings", rating(segment_id, 2))
    assert response.status_code == 200 and response.json()["progress"]["rated"] >= 1
    assert len(session.ratings()) == before + 1 and session.ratings()[-1] == 2
    notes = RatedStore(session.out).annotations()
    assert notes["annotator"][-1] == "ada" and notes["response_s"][-1] == 2.5
    assert np.isfinite(notes["rated_at"][-1])
    again = session.post("/api/ratings", rating(segment_id, 0))
    assert again.status_code == 409 and "already rated" in again.json()["detail"]
    skipped_after = session.post("/api/skips", {"segment_id": segment_id})
    assert skipped_after.status_code == 409
    assert len(session.ratings()) == before + 1 and next_id(session) != segment_id


def test_a_skip_moves_on_without_a_rating(session):
    segment_id, before = next_id(session), session.ratings()
    assert session.post("/api/skips", {"segment_id": segment_id}).status_code == 200
    assert next_id(session) != segment_id and session.ratings() == before
    assert session.post("/api/ratings", rating(segment_id)).status_code == 409


def test_a_killed_session_keeps_every_acknowledged_rating_and_asks_none_again(tmp_path):
    first = start_session(tmp_path / "rated", count=6)
    given = []
    for value in (0, 2, 1):
        segment_id = next_id(first)
        assert first.post("/api/ratings", rating(segment_id, value)).status_code == 200
        given.append((segment_id, value))
    first.process.send_signal(signal.SIGKILL)  # no shutdown handler runs
    first.process.wait(timeout=30)
    assert RatedStore(tmp_path / "rated").load()[1].tolist() == [0, 2, 1]

    second = start_session(tmp_path / "rated", count=6)
    try:
        with second.client() as c:
            assert c.get("/api/next").json()["progress"]["pending"] == 3
        for segment_id, value in given:
            assert second.post("/api/ratings", rating(segment_id, value)).status_code == 409
    finally:
        second.stop()


def test_stopping_the_page_skips_the_videos_still_queued(tmp_path):
    """SIGTERM while requests wait for renders: the session ends after the render in
    progress, not after every queued one (with software rendering under load, each
    took 10 s or more and a stop outlasted a minute)."""
    import httpx

    from rbrl_ray.feedback.scripted import collect_segments
    from rbrl_ray.feedback.segments import segment_ids

    session = start_session(tmp_path / "rated", count=12)
    pool = segment_ids(collect_segments("cartpole-balance", 12, 0, physics_states=True))
    videos = tmp_path / "rated" / "videos" / "cartpole-balance"
    asked = pool[:-7:-1]  # the newest six; the page renders ahead from the oldest

    def fetch(segment_id: str) -> int | str:
        try:
            with session.client() as c:
                return c.get(f"/videos/{segment_id}.webm").status_code
        except httpx.HTTPError as err:  # the server went away mid-request
            return type(err).__name__

    with ThreadPoolExecutor(len(asked)) as askers:
        answers = [askers.submit(fetch, segment_id) for segment_id in asked]
        deadline = time.monotonic() + 120
        while not list(videos.glob("*.webm")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(videos.glob("*.webm")), "no video was rendered"
        session.process.send_signal(signal.SIGTERM)
        session.process.wait(timeout=60)
    assert session.process.returncode == 0
    rendered = {p.stem for p in videos.glob("*.webm")}
    assert len(rendered) < len(pool) and set(asked) - rendered, sorted(rendered)
    said = session.process.stdout.read()
    assert "Traceback" not in said, said
    assert {a.result() for a in answers} <= {200, 503}, said


def rate_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rbrl_ray.rate", *args],
        capture_output=True, text=True, timeout=120, env=env or users_environment(),
    )  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [
        (["--segments", "scripted", "--classes", "3"], "--segments scripted needs --env"),
        (["--segments", "scripted", "--env", "pong", "--classes", "3"], "unknown env 'pong'"),
        (["--segments", "scripted", "--env", "cartpole-balance", "--classes", "11"], "classes"),
        (["--segments", "/no/such/folder", "--classes", "3"], "not 'scripted' and not a folder"),
        (
            ["--segments", "scripted", "--env", "cartpole-balance", "--classes", "3",
             "--host", "0.0.0.0"],
            "add --expose",
        ),
        (
            ["--segments", "scripted", "--env", "cartpole-balance", "--classes", "3",
             "--token", "short"],
            "at least 16",
        ),
        (["--segments", "scripted", "--env", "cartpole-balance"], "--classes"),
        (
            ["--segments", "scripted", "--env", "cartpole-balance", "--classes", "3",
             "--port", "70000"],
            "port",
        ),
    ],
)  # fmt: skip
def test_bad_command_lines_get_one_line_and_exit_2(args, message):
    done = rate_cli(*args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_store_without_physics_states_or_of_another_task_is_refused(tmp_path):
    from rbrl_ray.feedback.segments import Segments

    plain = tmp_path / "plain"
    zeros = np.zeros((2, 50, 5), np.float32)
    RatedStore(plain).append(Segments(zeros, zeros[..., :1], zeros[..., 0]), np.array([0, 1]))
    done = rate_cli("--segments", str(plain), "--classes", "3")
    assert done.returncode == 2 and "no physics states" in done.stderr

    other = tmp_path / "other"
    other.mkdir()
    (other / "session.json").write_text(json.dumps({"env": "walker-walk", "classes": 3}))
    done = rate_cli(
        "--segments", "scripted", "--env", "cartpole-balance", "--classes", "3", "--out",
        str(other), "--count", "2",
    )  # fmt: skip
    assert done.returncode == 2 and "holds ratings of walker-walk" in done.stderr
    assert sorted(p.name for p in other.iterdir()) == ["session.json"]  # untouched


def test_a_pool_is_cut_from_a_checkpoints_policy(small_ours_trial, tmp_path):
    made, trial = small_ours_trial.run, small_ours_trial.folder
    assert made.returncode == 0, made.stderr[-2000:]
    session = start_session(tmp_path / "rated", count=5, segments=str(trial / "checkpoint"))
    try:
        with session.client() as c:
            shown = c.get("/api/next").json()
        assert shown["env"] == "cartpole-balance"  # read from the checkpoint's segments
        assert shown["progress"]["pending"] == 5
        assert session.post("/api/ratings", rating(shown["segment_id"], 2)).status_code == 200
        assert RatedStore(tmp_path / "rated").load()[0].states.shape == (1, 50, 4)
    finally:
        session.stop()
