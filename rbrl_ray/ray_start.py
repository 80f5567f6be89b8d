"""Starting Ray in-process, with the one startup failure users meet said in one line.

Ray gives a new local node a fixed 30 s to register with its GCS
(`ray/_private/node.py`); on a busy machine (two cores, training beside it) that
can run out, and Ray raises a bare Exception with a traceback. Nothing has been
started or written then, so the command can simply be run again.
"""

from __future__ import annotations

from typing import Any

#: The words of Ray 2.60's exception when a node misses its registration window.
STARTUP_TIMEOUT = "timed out during startup"


class RayStartError(RuntimeError):
    """Ray could not start; its message is the one line the user sees."""


def init_ray(**kwargs: Any) -> None:
    """`ray.init(ignore_reinit_error=True, **kwargs)`; RayStartError if Ray's local
    node timed out during startup (anything else propagates as Ray raised it)."""
    import ray

    try:
        ray.init(ignore_reinit_error=True, **kwargs)
    except Exception as error:
        if STARTUP_TIMEOUT not in str(error):
            raise
        raise RayStartError(
            "Ray's local node did not register within Ray's fixed 30 s: the machine is "
            "busy (training or another Ray beside it); nothing was started or lost, run "
            "the command again when it is less loaded"
        ) from error
