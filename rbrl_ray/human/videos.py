"""Videos of segments, rendered once and cached beside the store, found by segment id."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rbrl_ray.human.render import SegmentRenderer, write_webm

SEGMENT_ID = re.compile(r"^[0-9a-f]{16}$")


class VideoCacheClosed(RuntimeError):
    """A video was asked for after its cache began to close."""


class VideoCache:
    """`root/<segment id>.webm`, rendered from the segment's physics states on first use."""

    def __init__(self, root: Path, env: str) -> None:
        self.root = Path(root)
        self.env = env
        self._renderer: SegmentRenderer | None = None
        # Every render runs on this one thread: a GL context is current in one thread
        # only (EGL_BAD_ACCESS otherwise), and one physics renders one segment at a time.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")
        self._closed = False

    def path(self, segment_id: str) -> Path:
        if not SEGMENT_ID.match(segment_id):  # ids only: nothing from a client names a file
            raise ValueError(f"not a segment id: {segment_id!r}")
        return self.root / f"{segment_id}.webm"

    def get(self, segment_id: str, states: np.ndarray) -> Path:
        """The video of segment `segment_id` with physics states [T, d], rendered if new."""
        path = self.path(segment_id)
        if path.exists():
            return path
        if self._closed:
            raise VideoCacheClosed(f"no video of {segment_id}: the page is shutting down")
        return self._worker.submit(self._render, path, states).result()

    def _render(self, path: Path, states: np.ndarray) -> Path:
        if self._closed:  # queued before close(): nobody will watch it
            raise VideoCacheClosed(f"no video of {path.stem}: the page is shutting down")
        if not path.exists():  # a request queued behind another for the same segment
            if self._renderer is None:
                self._renderer = SegmentRenderer(self.env)
            write_webm(self._renderer.frames(states), path)
        return path

    def close(self) -> None:
        """Skip the renders still queued (their requests get VideoCacheClosed), let the
        one in progress finish, then free the renderer's GL context on the thread that
        made it, and the thread. Without the skip, stopping a page under load waited
        for every queued render (seconds each with software rendering)."""
        if self._closed:
            return
        self._closed = True
        self._worker.submit(self._close_renderer).result()
        self._worker.shutdown()

    def _close_renderer(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
