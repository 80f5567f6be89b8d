"""rbrl_ray: reward learning from human ratings on Ray RLlib and Ray Tune.

Reproduces "Multi-Task Reward Learning from Human Ratings" (arXiv 2506.09183)
and its predecessor "Rating-based Reinforcement Learning" (White et al., 2024).
"""

__version__ = "0.1.0"

import os as _os

# Nothing in the training path renders. Without a setting, importing RLlib or
# dm_control probes GLFW and warns about a missing display in every process.
# Set MUJOCO_GL=egl (GPU) or osmesa (CPU) yourself to render segments.
_os.environ.setdefault("MUJOCO_GL", "disable")
