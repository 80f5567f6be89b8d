"""Segments from snapshots of a true-reward PPO run: behaviour from random to trained.

Random or scripted actions never leave the lowest rating class on finger-spin,
cheetah-run and walker-walk. A PPO run on the env reward passes through a range
of behaviour as it learns; sampling its policy at several stages (the untrained
policy first) gives a pool of segments that spans that range.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rbrl_ray import metric_names as m
from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec
from rbrl_ray.feedback.segments import SEGMENT_LENGTH, Segments
from rbrl_ray.rllib.episodes import segments_from_episodes
from rbrl_ray.rllib.ppo import RatingPPOConfig


def _sample_segments(algo, count: int, rng: np.random.Generator) -> Segments:
    """`count` segments of the current policy (stochastic, as in training)."""
    parts, have = [], 0
    while have < count:
        episodes = algo.env_runner.sample(num_timesteps=(count - have) * SEGMENT_LENGTH)
        part = segments_from_episodes(episodes, rng)
        if part is not None:
            parts.append(part)
            have += len(part)
    return Segments.concat(parts).take(slice(0, count))


def snapshot_segments(
    env: str,
    ppo_steps: int,
    stages: int,
    per_stage: int,
    seed: int,
    preset: str = "small",
    on_stage: Callable[[int, int, float], None] | None = None,
) -> tuple[Segments, np.ndarray]:
    """Segments of `stages` policy snapshots spaced evenly over `ppo_steps` of PPO on
    the env reward (the first snapshot is the untrained policy), `per_stage` each,
    and the snapshot index of every segment. `on_stage(stage, env_steps, mean
    segment return)` reports progress."""
    # No remote EnvRunner: the algorithm's local one trains and takes the snapshots.
    ppo = PPO_PRESETS[preset].model_copy(update={"num_env_runners": 0})
    spec = ExperimentSpec(
        env=env, method="ppo", seed=seed, timesteps=ppo_steps, ppo=ppo, evaluation={"episodes": 0}
    )
    algo = RatingPPOConfig.from_spec(spec, rating_dir=Path(tempfile.mkdtemp())).build_algo()
    rng = np.random.default_rng(seed)
    marks = np.linspace(0, ppo_steps, stages).astype(int)
    parts, stage_of, steps = [], [], 0
    try:
        for stage, mark in enumerate(marks):
            while steps < mark:
                result = algo.train()
                steps = int(m.under_env_runners(result, m.STEPS_KEY))
            part = _sample_segments(algo, per_stage, rng)
            parts.append(part)
            stage_of.append(np.full(len(part), stage))
            if on_stage is not None:
                on_stage(stage, steps, float(part.true_returns.mean()))
    finally:
        algo.stop()
    return Segments.concat(parts), np.concatenate(stage_of)
