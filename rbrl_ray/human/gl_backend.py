"""Which OpenGL backend renders segments here, found by trying, before a page is served.

MuJoCo picks its backend from MUJOCO_GL once, when dm_control is first imported,
and cannot switch afterwards. So each candidate is tried in a short child process
(render one 8x8 frame), and the first that works is set in this process before
anything renders. A user's own MUJOCO_GL is the only candidate; otherwise EGL
(a GPU, or Mesa's software rasteriser without one), then OSMesa, then GLFW (a
display). Processes that only train never come here: `rbrl_ray` sets
MUJOCO_GL=disable at import (and says it did, in GL_DEFAULTED), so they never
probe a display.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys

from rbrl_ray import GL_DEFAULTED
from rbrl_ray.validation import ConfigError

CANDIDATES = ("egl", "osmesa", "glfw")
INSTALL_HINT = (
    "install Mesa's EGL (Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri) "
    "or OSMesa (libosmesa6), or set MUJOCO_GL to a backend that works here"
)
PROBE_TIMEOUT_S = 120
_PROBE = (
    "from dm_control import mujoco\n"
    "xml = \"<mujoco><worldbody><light pos='0 0 1'/><geom size='.1'/></worldbody></mujoco>\"\n"
    "mujoco.Physics.from_xml_string(xml).render(8, 8)\n"
)


class RenderingUnavailable(ConfigError):
    """No OpenGL backend can render here; the message is one line: what was tried and
    what to install."""


def users_choice() -> str | None:
    """MUJOCO_GL as the user set it, or None where it is unset (or only this package's
    `disable` default, inherited by a child process or a Ray worker)."""
    value = os.environ.get("MUJOCO_GL")
    if value == "disable" and os.environ.get(GL_DEFAULTED):
        return None
    return value or None


def probe(backend: str) -> str | None:
    """None if MUJOCO_GL=`backend` renders a frame in a fresh process, else why not
    (the last line of its error)."""
    env = {k: v for k, v in os.environ.items() if k != GL_DEFAULTED}
    env["MUJOCO_GL"] = backend
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"no frame within {PROBE_TIMEOUT_S} s"
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return lines[-1].rstrip(".") if lines else f"exit code {done.returncode}"


@functools.cache
def choose_backend() -> str:
    """The first backend that renders here (the user's MUJOCO_GL only, if set);
    RenderingUnavailable naming each one tried and why it failed."""
    chosen = users_choice()
    candidates = (chosen,) if chosen else CANDIDATES
    failures = []
    for backend in candidates:
        why = probe(backend)
        if why is None:
            return backend
        failures.append(f"MUJOCO_GL={backend}: {why}")
    whose = "your MUJOCO_GL" if chosen else "tried " + ", ".join(candidates)
    raise RenderingUnavailable(
        f"cannot render segments ({whose}): {'; '.join(failures)}. To render: {INSTALL_HINT}"
    )


def enable_rendering() -> str:
    """Make this process render through the chosen backend; returns its name. Call it
    before dm_control is imported (RuntimeError if it already was, with another one)."""
    backend = choose_backend()
    loaded = sys.modules.get("dm_control._render")
    if loaded is not None and loaded.BACKEND != backend:
        raise RuntimeError(
            f"dm_control was imported with MUJOCO_GL={os.environ.get('MUJOCO_GL')} before "
            f"rendering was enabled; call enable_rendering() first (backend {backend})"
        )
    os.environ["MUJOCO_GL"] = backend
    os.environ.pop(GL_DEFAULTED, None)
    return backend


def check_before_ray(human_rater: bool) -> None:
    """Before Ray starts: a run with `rater: human` whose rating desk will live on this
    machine (no RAY_ADDRESS: a local run) needs a backend that renders here; one line
    (RenderingUnavailable) otherwise. On a cluster the desk's own node checks, and
    the trial fails with the same line."""
    if human_rater and not os.environ.get("RAY_ADDRESS"):
        choose_backend()
