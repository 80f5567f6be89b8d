"""rbrl_ray: reward learning from human ratings on Ray RLlib and Ray Tune.

Reproduces "Multi-Task Reward Learning from Human Ratings" (arXiv 2506.09183)
and its predecessor "Rating-based Reinforcement Learning" (White et al., 2024).
"""

__version__ = "0.1.0"

import os as _os

#: Set (to "1") where MUJOCO_GL=disable is this package's default, not the user's
#: choice; inherited with it by child processes and Ray workers.
GL_DEFAULTED = "RBRL_RAY_MUJOCO_GL_DEFAULTED"

# Nothing in the training path renders. Without a setting, importing RLlib or
# dm_control probes GLFW and warns about a missing display in every process. The
# rating page and `play` choose a backend that works (rbrl_ray.human.gl_backend).
if "MUJOCO_GL" not in _os.environ:
    _os.environ["MUJOCO_GL"] = "disable"
    _os.environ[GL_DEFAULTED] = "1"
