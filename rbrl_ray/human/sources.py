"""Where an offline rating session's segments come from."""

from __future__ import annotations

from pathlib import Path

from rbrl_ray.feedback.segments import Segments
from rbrl_ray.feedback.store import RatedStore, lineages
from rbrl_ray.validation import ConfigError

SCRIPTED = "scripted"


def load_segments(source: str, env: str | None, count: int, seed: int) -> Segments:
    """The segments of `source`: "scripted" (a fresh pool of `count` segments of `env`
    from the scripted behaviours of reward_bench), a rated store (a folder of
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
