"""Where an offline rating session's segments come from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        from rbrl_ray.reward_bench.scripted import collect_segments

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
    """`count` segments cut from rollouts of the policy in a trial checkpoint (its
    exploring policy, as the trial sampled), with physics states recorded."""
    import numpy as np
    import ray

    from rbrl_ray.rllib.episodes import segments_from_episodes
    from rbrl_ray.rllib.keys import spec_of
    from rbrl_ray.rllib.ppo import RatingPPO, env_config

    ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    algo = RatingPPO.from_checkpoint(str(path.resolve()))
    try:
        spec = spec_of(algo.config)
        state = _sampler_state(algo)
        config = algo.config.copy(copy_frozen=False)
        config.environment(env_config={**env_config(spec), "record_states": True})
        config.env_runners(num_env_runners=0)
        runner = (config.env_runner_cls or _default_runner())(config=config)
        runner.set_state(state)  # the checkpoint's weights and observation filter
        rng, parts, have = np.random.default_rng(seed), [], 0
        while have < count:
            episodes = runner.sample(num_timesteps=spec.ppo.envs_per_runner * 1000)
            cut = segments_from_episodes(list(episodes), rng)
            if cut is not None:
                parts.append(cut)
                have += len(cut)
        runner.stop()
        pool = Segments.concat(parts)
        return pool.take(rng.choice(len(pool), size=count, replace=False))
    finally:
        algo.stop()


def _sampler_state(algo: Any) -> dict[str, Any]:
    group = algo.env_runner_group
    remote = group.num_remote_env_runners() > 0
    return group.foreach_env_runner(lambda r: r.get_state(), local_env_runner=not remote)[0]


def _default_runner() -> type:
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    return SingleAgentEnvRunner
