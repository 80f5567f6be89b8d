"""An offline rating session: a desk whose ratings go straight into a rated store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.feedback.store import RatedStore
from rbrl_ray.human.annotators import Roster
from rbrl_ray.human.desk import HumanRating, RatingDesk
from rbrl_ray.human.labels import LabelLog, Overlap
from rbrl_ray.jsonio import write_json
from rbrl_ray.validation import ConfigError

SESSION_FILE = "session.json"
OFFLINE_QUEUE = "offline"
POOL_FILE = "pool.json"  # the session's segments and overlap, for --status's "waiting"


def annotations_of(ratings: list[HumanRating]) -> dict[str, np.ndarray]:
    return {
        "annotator": np.array([r.annotator for r in ratings]),
        "rated_at": np.array([r.rated_at for r in ratings]),
        "response_s": np.array([r.response_s for r in ratings]),
    }


def check_session(
    out: Path, env: str, classes: int, rating_range: tuple[float, float] | None = None
) -> None:
    """Record what `out` holds ratings of (and the synthetic rater's rating range to
    compare people with: `rating_range`, else the env's default), or refuse (one line)
    a different env or scale."""
    path = out / SESSION_FILE
    if path.exists():
        held = read_session(out)
        if (held.get("env"), held.get("classes")) != (env, classes):
            raise ConfigError(
                f"{out} holds ratings of {held.get('env')} on {held.get('classes')} classes, "
                f"not {env} on {classes}: choose another --out"
            )
        return
    low_high = list(rating_range) if rating_range is not None else rating_range_of(env)
    write_json(path, {"env": env, "classes": classes, "rating_range": low_high})


def read_session(out: Path) -> dict:
    """`out`'s session record: env, classes and the synthetic rater's rating range."""
    path = out / SESSION_FILE
    if not path.exists():
        raise ConfigError(f"{out}: no {SESSION_FILE}; not a store made by rbrl_ray.rate")
    try:
        held = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not JSON ({err.msg}); fix or remove it") from None
    return {"rating_range": rating_range_of(held.get("env", "")), **held}


def rating_range_of(env: str) -> list[float]:
    """The synthetic rater's rating range for `env`, to compare people with it: the
    sweeps' (the shipped envs.yaml) or the default [0, 50]."""
    from rbrl_ray.envs import SHIPPED_ENV_SETTINGS as settings
    from rbrl_ray.experiment import ExperimentSpec

    if settings.exists():
        from rbrl_ray.sweep.grid import load_env_settings

        found = load_env_settings(settings, settings.name).get(env)
        if found is not None and found.rating_range is not None:
            return [float(x) for x in found.rating_range]
    return [float(x) for x in ExperimentSpec.model_fields["rating_range"].default]


def offline_desk(
    out: Path,
    env: str,
    classes: int,
    segments: Segments,
    roster: Roster,
    overlap: Overlap | None = None,
) -> tuple[RatingDesk, RatedStore]:
    """A desk holding `segments`, less those `out` already has ratings of. Each answer
    is appended to `out`'s label log, and each finished segment's one label to the
    store in `out` (one file per segment), before the page hears back; answers in
    the log to segments not finished yet count."""
    store, log = RatedStore(out), LabelLog(out)
    loaded = store.load()
    rated = segment_ids(loaded[0]) if loaded is not None else []

    def write(segment: Segments, rating: HumanRating) -> None:
        store.append(segment, np.array([rating.label]), annotations_of([rating]))

    desk = RatingDesk(
        write,
        rated_ids=rated,
        on_answer=log.append,
        overlap=overlap,
        active_annotators=lambda: len(roster.active()),
        earlier=log.read(),
    )
    desk.submit(segments, OFFLINE_QUEUE, env, classes)
    write_json(out / POOL_FILE, {"segment_ids": segment_ids(segments),
                                 "overlap": (overlap or Overlap()).model_dump()})  # fmt: skip
    return desk, store
