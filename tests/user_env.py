"""The environment a user runs a command in: nothing rendering-related set for them."""

from __future__ import annotations

import os

from rbrl_ray import GL_DEFAULTED


def users_environment(**extra: str) -> dict[str, str]:
    """This process's environment less MUJOCO_GL (and the package's note that it set
    `disable` itself): a command run in it chooses its OpenGL backend as it does for a
    user who set nothing."""
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", GL_DEFAULTED)}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}
