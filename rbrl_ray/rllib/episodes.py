"""What the reward model sees of an RLlib episode: raw observation, action, true reward."""

from __future__ import annotations

import numpy as np
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rbrl_ray.envs import PHYSICS_STATE_KEY, RAW_OBS_KEY
from rbrl_ray.feedback.segments import SEGMENT_LENGTH, Segments, cut_segments


def step_arrays(episode: SingleAgentEpisode, steps: int) -> tuple[np.ndarray, ...]:
    """The first `steps` steps of an episode chunk: raw obs [steps, do], actions
    clipped to the policy's normalised range [-1, 1] (what the env executes after
    unsquashing), true rewards [steps]."""
    infos = episode.get_infos(slice(0, steps))
    obs = np.stack([info[RAW_OBS_KEY] for info in infos]).astype(np.float32)
    act = np.clip(np.asarray(episode.get_actions(slice(0, steps)), np.float32), -1.0, 1.0)
    rewards = np.asarray(episode.get_rewards(slice(0, steps)), np.float32)
    return obs, act.reshape(steps, -1), rewards


def learner_steps(
    episodes: list[SingleAgentEpisode],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Raw obs, actions and true rewards of every real step of a learner batch's
    episodes, concatenated in episode order, and each episode's step count.

    In the learner pipeline each episode ends with AddOneTsToEpisodesAndTruncate's
    bootstrap step, which is left out here.
    """
    lengths = [len(episode) - 1 for episode in episodes]
    arrays = [step_arrays(ep, n) for ep, n in zip(episodes, lengths, strict=True)]
    obs, act, true = (np.concatenate([a[i] for a in arrays]) for i in range(3))
    return obs, act, true, lengths


def physics_states(episode: SingleAgentEpisode, steps: int) -> np.ndarray | None:
    """The physics state at each of the first `steps` observations, where the env
    recorded them (`record_states`), else None."""
    infos = episode.get_infos(slice(0, steps))
    if not infos or PHYSICS_STATE_KEY not in infos[0]:
        return None
    return np.stack([info[PHYSICS_STATE_KEY] for info in infos])


def segments_from_episodes(
    episodes: list[SingleAgentEpisode], rng: np.random.Generator, length: int = SEGMENT_LENGTH
) -> Segments | None:
    """Segments cut at uniform offsets from sampled episode chunks, one per `length`
    steps of each chunk; chunks shorter than a segment give none. Recorded physics
    states travel with them."""
    parts = []
    for episode in episodes:
        steps = len(episode)
        if steps < length:
            continue
        obs, act, rewards = step_arrays(episode, steps)
        states = physics_states(episode, steps)
        parts.append(cut_segments(obs, act, rewards, steps // length, rng, length, states))
    return Segments.concat(parts) if parts else None
