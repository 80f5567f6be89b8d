"""Segments as short videos, rendered from their recorded physics states.

Each frame is the task's default camera (id 0) after setting the physics state
recorded at that step (`Segments.states`), through the OpenGL backend that
`gl_backend.enable_rendering` found (without a GPU: EGL with Mesa's software
rasteriser). Videos are WebM (VP8) through imageio-ffmpeg's own
ffmpeg, which every Chromium-based and Firefox browser plays.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from rbrl_ray.envs import get_task, shimmy_env

HEIGHT, WIDTH = 240, 320
#: dm_control's control timestep is 0.01-0.025 s; 30 frames/s shows a 50-step
#: segment in under 2 s, which the page's speed control slows down or speeds up.
FPS = 30


class SegmentRenderer:
    """Frames of one task's segments, from one physics instance."""

    def __init__(self, env: str, height: int = HEIGHT, width: int = WIDTH) -> None:
        get_task(env)
        self.env = env
        self.height, self.width = height, width
        self._gym_env = shimmy_env(env)
        self._gym_env.reset(seed=0)
        self.physics = self._gym_env._env.physics

    @property
    def state_dim(self) -> int:
        return int(self.physics.get_state().shape[0])

    def frames(self, states: np.ndarray) -> np.ndarray:
        """[T, H, W, 3] uint8 frames of the physics states [T, state_dim]."""
        if states.ndim != 2 or states.shape[1] != self.state_dim:
            raise ValueError(
                f"{self.env} has {self.state_dim}-dimensional physics states, got {states.shape}"
            )
        out = np.empty((len(states), self.height, self.width, 3), np.uint8)
        for t, state in enumerate(states):
            with self.physics.reset_context():  # set the state and recompute positions
                self.physics.set_state(state.astype(np.float64))
            out[t] = self.physics.render(self.height, self.width, camera_id=0)
        return out

    def close(self) -> None:
        """Free the GL context (call on the thread that rendered) and the env."""
        self.physics.free()
        self._gym_env.close()


def write_webm(frames: np.ndarray, path: Path, fps: int = FPS) -> Path:
    """Encode [T, H, W, 3] uint8 frames as a WebM file at `path`, atomically."""
    import imageio_ffmpeg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    t, h, w, _ = frames.shape
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
        "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M",
        "-pix_fmt", "yuv420p", "-f", "webm", str(partial),
    ]  # fmt: skip
    raw = np.ascontiguousarray(frames).tobytes()
    done = subprocess.run(command, input=raw, capture_output=True)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg could not write {path}: {done.stderr.decode().strip()}")
    os.replace(partial, path)
    return path
