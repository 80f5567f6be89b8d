"""An offline rating session: a desk whose ratings go straight into a rated store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.feedback.store import RatedStore
from rbrl_ray.human.desk import HumanRating, RatingDesk
from rbrl_ray.jsonio import write_json
from rbrl_ray.validation import ConfigError

SESSION_FILE = "session.json"


def annotations_of(ratings: list[HumanRating]) -> dict[str, np.ndarray]:
    return {
        "annotator": np.array([r.annotator for r in ratings]),
        "rated_at": np.array([r.rated_at for r in ratings]),
        "response_s": np.array([r.response_s for r in ratings]),
    }


def check_session(out: Path, env: str, classes: int) -> None:
    """Record what `out` holds ratings of, or refuse (one line) a different env or scale."""
    path = out / SESSION_FILE
    if path.exists():
        try:
            held = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not JSON ({err.msg}); fix or remove it") from None
        if held != {"env": env, "classes": classes}:
            raise ConfigError(
                f"{out} holds ratings of {held.get('env')} on {held.get('classes')} classes, "
                f"not {env} on {classes}: choose another --out"
            )
        return
    write_json(path, {"env": env, "classes": classes})


def offline_desk(
    out: Path, env: str, classes: int, segments: Segments
) -> tuple[RatingDesk, RatedStore]:
    """A desk holding `segments`, less those `out` already has ratings of; each rating
    is appended to the store in `out` (one file per rating) before it is acknowledged."""
    store = RatedStore(out)
    loaded = store.load()
    rated = segment_ids(loaded[0]) if loaded is not None else []

    def write(segment: Segments, rating: HumanRating) -> None:
        store.append(segment, np.array([rating.label]), annotations_of([rating]))

    desk = RatingDesk(write, rated_ids=rated)
    desk.submit(segments, "offline", env, classes)
    return desk, store
