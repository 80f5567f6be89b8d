"""A rating desk: segments waiting for a person, and the ratings the person gives.

One desk serves one page. Segments come in batches (`submit`, from an offline pool
or from a trial's rating service), each batch into a queue (one per trial) with
its task and class count n; the page takes them one at a time, oldest first
(`next`), and answers each with a rating in [0, n) or a skip. A rating is handed to
`on_rated` (which writes it to a store) before it is acknowledged, so an
acknowledged rating is on disk. A segment is known by its content id
(`segment_ids`): one already rated is never asked again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from rbrl_ray.feedback.segments import Segments, segment_ids


@dataclass(frozen=True)
class HumanRating:
    segment_id: str
    label: int
    annotator: str
    rated_at: float  # unix time the rating reached the desk
    response_s: float  # seconds from showing the segment to the rating (the page's clock)
    queue: str


class DeskError(Exception):
    """A request the desk refuses; `status` is its HTTP status."""

    status = 400


class UnknownSegment(DeskError):
    status = 404


class AlreadyRated(DeskError):
    status = 409


class BadRating(DeskError):
    status = 422


@dataclass(frozen=True)
class Waiting:
    """A segment waiting for a rating, as the page needs to show it."""

    segment_id: str
    queue: str
    env: str
    classes: int


@dataclass
class _Pending:
    segment: Segments  # one segment
    queue: str
    env: str
    classes: int


class RatingDesk:
    """Thread-safe: the web server's handlers and the submitting side share it."""

    def __init__(
        self,
        on_rated: Callable[[Segments, HumanRating], None],
        rated_ids: Iterable[str] = (),
        on_skipped: Callable[[str, str], None] | None = None,
        skipped_ids: Iterable[str] = (),
    ) -> None:
        self._on_rated = on_rated
        self._on_skipped = on_skipped  # (segment id, queue)
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._rated: set[str] = set(rated_ids)
        self._skipped: set[str] = set(skipped_ids)
        self._lock = threading.Lock()
        self.rated_this_session = 0
        self.skipped_this_session = 0

    # -- the submitting side -----------------------------------------------------------
    def submit(self, segments: Segments, queue: str, env: str, classes: int) -> list[str]:
        """Queue `segments` of task `env` for rating on `classes` classes; returns their
        ids. A segment already rated, skipped or waiting is not queued again."""
        if segments.states is None:
            raise ValueError("segments without physics states cannot be shown to a person")
        ids = segment_ids(segments)
        with self._lock:
            for i, segment_id in enumerate(ids):
                if segment_id in self._rated or segment_id in self._pending:
                    continue
                if segment_id in self._skipped:
                    continue
                one = segments.take(slice(i, i + 1))
                self._pending[segment_id] = _Pending(one, queue, env, classes)
        return ids

    def withdraw(self, queue: str) -> int:
        """Drop every pending segment of `queue` (its trial ended); returns how many."""
        with self._lock:
            gone = [k for k, p in self._pending.items() if p.queue == queue]
            for segment_id in gone:
                del self._pending[segment_id]
        return len(gone)

    # -- the page's side ---------------------------------------------------------------
    def next(self) -> Waiting | None:
        """The oldest segment waiting, or None."""
        with self._lock:
            for segment_id, p in self._pending.items():
                return Waiting(segment_id, p.queue, p.env, p.classes)
            return None

    def env_of(self, segment_id: str) -> str:
        with self._lock:
            return self._pending_or_raise(segment_id).env

    def waiting(self, count: int) -> list[str]:
        """The ids of the `count` oldest segments waiting."""
        with self._lock:
            return list(itertools.islice(self._pending, count))

    def states_of(self, segment_id: str) -> np.ndarray:
        """The physics states [T, d] of a pending segment (to render it)."""
        with self._lock:
            return self._pending_or_raise(segment_id).segment.states[0]

    def rate(
        self, segment_id: str, label: object, annotator: str, response_s: float
    ) -> HumanRating:
        """Record a rating; it is on disk (via `on_rated`) when this returns."""
        if isinstance(label, bool) or not isinstance(label, int):
            raise BadRating(f"rating must be an integer class, got {label!r}")
        with self._lock:
            pending = self._pending_or_raise(segment_id)
            if not 0 <= label < pending.classes:
                raise BadRating(f"rating {label} is outside 0..{pending.classes - 1}")
            rating = HumanRating(
                segment_id, label, annotator, time.time(), float(response_s), pending.queue
            )
            self._on_rated(pending.segment, rating)  # raises: nothing changes here
            del self._pending[segment_id]
            self._rated.add(segment_id)
            self.rated_this_session += 1
        return rating

    def skip(self, segment_id: str) -> str:
        """Leave a segment unrated: it is not shown again by this desk. Returns its queue."""
        with self._lock:
            pending = self._pending_or_raise(segment_id)
            if self._on_skipped is not None:
                self._on_skipped(segment_id, pending.queue)
            del self._pending[segment_id]
            self._skipped.add(segment_id)
            self.skipped_this_session += 1
        return pending.queue

    def pending_in(self, queue: str) -> int:
        with self._lock:
            return sum(p.queue == queue for p in self._pending.values())

    def progress(self) -> dict[str, int]:
        with self._lock:
            return {
                "rated": self.rated_this_session,
                "skipped": self.skipped_this_session,
                "pending": len(self._pending),
            }

    def _pending_or_raise(self, segment_id: str) -> _Pending:
        pending = self._pending.get(segment_id)
        if pending is not None:
            return pending
        if segment_id in self._rated:
            raise AlreadyRated(f"segment {segment_id} is already rated")
        if segment_id in self._skipped:
            raise AlreadyRated(f"segment {segment_id} was skipped")
        raise UnknownSegment(f"no segment {segment_id} is waiting for a rating")
