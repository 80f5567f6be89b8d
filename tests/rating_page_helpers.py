"""Running `python -m rbrl_ray.rate` as a user does, for the rating-page tests."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import imageio_ffmpeg
import numpy as np

from rbrl_ray.feedback.store import RatedStore
from tests.user_env import users_environment

TOKEN = "test-token-0123456789"
URL_LINE = re.compile(r"rate them at (http://\S+)/\?token=(\S+)\s+\((\S+)\)")


def found_url(lines: list[str]) -> str:
    return next(m.group(1) for line in lines if (m := URL_LINE.search(line)))


@dataclass
class RatingSession:
    process: subprocess.Popen
    url: str
    out: Path

    links: dict[str, str]  # annotator -> token

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        """A client sending `token` (an annotator's) with every request."""
        headers = {} if token is None else {"X-Rating-Token": token}
        return httpx.Client(base_url=self.url, timeout=60, headers=headers)

    def post(self, path: str, body: object, token: str | None = TOKEN) -> httpx.Response:
        with self.client(token) as c:
            return c.post(path, json=body)

    def store_files(self) -> list[str]:
        return sorted(p.name for p in self.out.glob("ratings_*.npz"))

    def ratings(self) -> list[int]:
        loaded = RatedStore(self.out).load()
        return [] if loaded is None else loaded[1].tolist()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


def video_frames(webm: bytes, height: int = 240, width: int = 320) -> list[np.ndarray]:
    """The frames a browser would decode from a downloaded WebM video."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "video.webm"
        path.write_bytes(webm)
        reader = imageio_ffmpeg.read_frames(str(path))
        assert next(reader)["size"] == (width, height)
        return [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]


def start_session(
    out: Path,
    *extra: str,
    count: int = 12,
    segments: str = "scripted",
    annotators: tuple[str, ...] = ("ada",),
) -> RatingSession:
    """`python -m rbrl_ray.rate` on a pool of cartpole segments (scripted by default),
    on a free loopback port; returns when it has printed every annotator's link. A
    single annotator's token is TOKEN; several get random ones (`links`)."""
    env = users_environment()  # no MUJOCO_GL: the page finds a backend as for a user
    task = ["--env", "cartpole-balance"] if segments == "scripted" else []
    command = [
        sys.executable, "-m", "rbrl_ray.rate", "--segments", segments, *task,
        "--classes", "3", "--count", str(count),
        "--out", str(out), "--port", "0", "--annotators", ",".join(annotators), *extra,
    ]  # fmt: skip
    if len(annotators) == 1:
        command += ["--token", TOKEN]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen, links = [], {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = URL_LINE.search(line)
        if found:
            links[found.group(3)] = found.group(2)
        if line.startswith("links: ") and links:
            assert len(annotators) > 1 or links == {annotators[0]: TOKEN}
            return RatingSession(process, found_url(seen), out, links)
    process.kill()
    raise AssertionError("the rating page did not start:\n" + "".join(seen))
