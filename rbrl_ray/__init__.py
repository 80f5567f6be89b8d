"""rbrl_ray: reward learning from human ratings on Ray RLlib and Ray Tune.

Reproduces "Multi-Task Reward Learning from Human Ratings" (arXiv 2506.09183)
and its predecessor "Rating-based Reinforcement Learning" (White et al., 2024).
"""

__version__ = "0.1.0"
