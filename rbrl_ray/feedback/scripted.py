"""Segments from a spread of scripted behaviours, for offline reward benchmarks.

No learning here: each episode follows one behaviour from a fixed mix (uniform
random actions at several scales, no action, temporally correlated noise), so
true returns cover more than the lowest class on tasks where that is possible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from rbrl_ray.envs import EPISODE_LENGTH, PHYSICS_STATE_KEY, make_env
from rbrl_ray.feedback.segments import SEGMENT_LENGTH, Segments, cut_segments

Policy = Callable[[np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Behaviour:
    """Actions of one scripted behaviour: uniform noise or an Ornstein-Uhlenbeck process."""

    name: str
    scale: float
    correlation: float = 0.0  # 0: independent steps; near 1: slowly varying actions

    def actions(self, act_dim: int, steps: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.uniform(-1.0, 1.0, size=(steps, act_dim))
        if self.correlation == 0.0:
            return self.scale * noise
        out = np.empty_like(noise)
        state = np.zeros(act_dim)
        keep = self.correlation
        for t in range(steps):
            state = keep * state + np.sqrt(1.0 - keep**2) * noise[t] * np.sqrt(3.0)
            out[t] = state
        return np.clip(self.scale * out, -1.0, 1.0)


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("uniform-1.0", 1.0),
    Behaviour("uniform-0.5", 0.5),
    Behaviour("uniform-0.2", 0.2),
    Behaviour("still", 0.0),
    Behaviour("smooth-1.0", 1.0, correlation=0.95),
    Behaviour("smooth-0.5", 0.5, correlation=0.9),
)


def run_episode(
    env: gym.Env, behaviour: Behaviour, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """One full episode: obs [L, do] (the obs each action was taken in), act, rewards,
    and the physics state at each obs when the env records them (else None)."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    low, high = env.action_space.low, env.action_space.high
    plan = behaviour.actions(env.action_space.shape[0], EPISODE_LENGTH, rng)
    observations, actions, rewards, states = [], [], [], []
    for action in np.clip(plan, low, high):
        observations.append(obs)
        states.append(info.get(PHYSICS_STATE_KEY))
        actions.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        if terminated or truncated:
            break
    recorded = np.asarray(states) if states[0] is not None else None
    return np.asarray(observations), np.asarray(actions), np.asarray(rewards), recorded


def episode_seed(seed: int, episode: int) -> int:
    """A 32-bit env seed for episode `episode` of a collection seeded `seed`."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


def collect_segments(
    env_name: str,
    count: int,
    seed: int,
    per_episode: int = 20,
    length: int = SEGMENT_LENGTH,
    on_episode: Callable[[int], None] | None = None,
    physics_states: bool = False,
) -> Segments:
    """`count` segments, `per_episode` from each episode, behaviours taken in turn;
    with `physics_states`, each step's state too (to render them for a person)."""
    rng = np.random.default_rng(seed)
    parts: list[Segments] = []
    collected, episode = 0, 0
    env = make_env({"env": env_name, "record_states": physics_states})
    try:
        while collected < count:
            behaviour = BEHAVIOURS[episode % len(BEHAVIOURS)]
            obs, act, rew, states = run_episode(env, behaviour, episode_seed(seed, episode))
            take = min(per_episode, count - collected)
            parts.append(cut_segments(obs, act, rew, take, rng, length, states))
            collected += len(parts[-1])
            episode += 1
            if on_episode is not None:
                on_episode(len(parts[-1]))
    finally:
        env.close()
    return Segments.concat(parts)
