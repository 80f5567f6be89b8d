"""Where an offline rating session's segments come from."""

from __future__ import annotations

from pathlib import Path

from rbrl_ray.feedback.segments import Segments
from rbrl_ray.feedback.store import RatedStore, lineages
from rbrl_ray.validation import ConfigError

SCRIPTED = "scripted"


def load_segments(source: str, env: str | None, count: int, seed: int) -> Segments:
    """The segments of `source`: "scripted" (a fresh pool of `count` segments of `env`
    from the scripted behaviours of reward_bench), a trial checkpoint (a pool cut from
    `count` segments' worth of rollouts of its policy), a rated store (a folder of
    ratings_*.npz) or a trial's ratings folder (its newest lineage). ConfigError (one
    line) when the source has none, or none with physics states to render."""
    if source == SCRIPTED:
        if env is None:
            raise ConfigError("--segments scripted needs --env")
        from rbrl_ray.feedback.scripted import collect_segments

        return collect_segments(env, count, seed, physics_states=True)
    path = Path(source)
    if not path.is_dir():
        raise ConfigError(f"--segments {source!r}: not {SCRIPTED!r} and not a folder")
    if (path / "algorithm_state.pkl").exists() or (path / "rllib_checkpoint.json").exists():
        return segments_from_checkpoint(path, count, seed)
    store = _store_in(path)
    loaded = store.load() if store is not None else None
    if loaded is None:
        raise ConfigError(f"--segments {source!r}: no ratings_*.npz in it or its newest lineage")
    segments, _ = loaded
    if segments.states is None:
        raise ConfigError(
            f"--segments {source!r}: its segments carry no physics states to render "
            "(record them with physics_states: true in the spec or sweep YAML)"
        )
    return segments.take(slice(0, count)) if count < len(segments) else segments


def _store_in(path: Path) -> RatedStore | None:
    if any(path.glob("ratings_*.npz")):
        return RatedStore(path)
    found = [p for p in lineages(path) if any(p.glob("ratings_*.npz"))]
    return RatedStore(found[-1]) if found else None


def segments_from_checkpoint(path: Path, count: int, seed: int) -> Segments:
    """`count` segments cut from episodes of the policy in a trial checkpoint (its
    exploring policy: actions sampled, observations normalised with the trial's
    filter, `human/frozen_policy.py`), with physics states recorded; no Ray."""
    import numpy as np

    from rbrl_ray.envs import make_env, task_of_observations
    from rbrl_ray.feedback.segments import SEGMENT_LENGTH, cut_segments
    from rbrl_ray.human.frozen_policy import FrozenPolicy

    policy = FrozenPolicy(path)
    env = make_env({"env": task_of_observations(policy.obs_dim), "record_states": True})
    rng, parts, have, episode_seed = np.random.default_rng(seed), [], 0, seed
    try:
        while have < count:
            e = policy.episode(env, episode_seed, explore=True)
            steps = len(e.rewards)
            cut = cut_segments(e.obs, e.act, e.rewards, steps // SEGMENT_LENGTH, rng,
                               states=e.states[:steps])  # fmt: skip
            parts.append(cut)
            have, episode_seed = have + len(cut), episode_seed + 1
    finally:
        env.close()
    pool = Segments.concat(parts)
    return pool.take(rng.choice(len(pool), size=count, replace=False))
