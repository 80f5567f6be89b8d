"""A rating desk: segments waiting for annotators, and the answers they give.

One desk serves one page. Segments come in batches (`submit`, from an offline pool
or from a trial's rating service), each batch into a queue (one per trial) with
its task and class count n; each annotator takes them one at a time, oldest first
(`next(annotator)`), and answers each with a rating in [0, n) or a skip. Every
answer goes to `on_answer` (the label log) before it is acknowledged. A segment
waits for one answer, or for several annotators' if it was chosen for overlap
(`labels.Overlap`); then its one label (`labels.consensus`) goes to `on_rated`
(the rated store), or, if nobody rated it, to `on_skipped`. A segment is known by
its content id (`segment_ids`): one already finished is never asked again, and
answers given before a restart (`earlier`) count.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.human.labels import Answer, Overlap, consensus, median_response


@dataclass(frozen=True)
class HumanRating:
    segment_id: str
    label: int  # the segment's one label (labels.consensus of its ratings)
    annotator: str  # who rated it ("ada+bob" where several did)
    rated_at: float  # unix time the segment was finished
    response_s: float  # seconds from showing to rating (the page's clock; median of several)
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


#: How long a segment shown to one annotator is kept from others who would answer in
#: their place (a page left open longer gives it back).
SHOWN_FOR_S = 120.0


@dataclass
class _Pending:
    segment: Segments  # one segment
    queue: str
    env: str
    classes: int
    wanted: int  # answers it waits for (more than one where it overlaps)
    answers: list[Answer] = field(default_factory=list)
    shown_to: dict[str, float] = field(default_factory=dict)  # annotator -> monotonic time

    def answered_by(self, annotator: str) -> bool:
        return any(a.annotator == annotator for a in self.answers)

    def held_by_others(self, annotator: str, now: float) -> int:
        """Annotators other than `annotator` it is on screen for (within SHOWN_FOR_S)."""
        return sum(
            name != annotator and not self.answered_by(name) and now - at < SHOWN_FOR_S
            for name, at in self.shown_to.items()
        )


class RatingDesk:
    """Thread-safe: the web server's handlers and the submitting side share it."""

    def __init__(
        self,
        on_rated: Callable[[Segments, HumanRating], None],
        rated_ids: Iterable[str] = (),
        on_skipped: Callable[[str, str], None] | None = None,
        skipped_ids: Iterable[str] = (),
        *,
        on_answer: Callable[[Answer], None] | None = None,
        overlap: Overlap | None = None,
        active_annotators: Callable[[], int] = lambda: 1,
        earlier: Iterable[Answer] = (),
    ) -> None:
        self._on_rated = on_rated
        self._on_skipped = on_skipped  # (segment id, queue)
        self._on_answer = on_answer
        self._overlap = overlap or Overlap()
        self._active = active_annotators
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._rated: set[str] = set(rated_ids)
        self._skipped: set[str] = set(skipped_ids)
        self._earlier: dict[str, list[Answer]] = {}
        last = {(a.segment_id, a.annotator): a for a in earlier}  # one per annotator: the last
        for (segment_id, _), answer in last.items():  # to segments not finished before a restart
            if segment_id not in self._rated | self._skipped:
                self._earlier.setdefault(segment_id, []).append(answer)
        self._lock = threading.Lock()
        self._given: Counter[tuple[str, str]] = Counter()  # (annotator, rated|skipped)

    @property
    def rated_this_session(self) -> int:
        return sum(n for (_, kind), n in self._given.items() if kind == "rated")

    @property
    def skipped_this_session(self) -> int:
        return sum(n for (_, kind), n in self._given.items() if kind == "skipped")

    # -- the submitting side -----------------------------------------------------------
    def submit(self, segments: Segments, queue: str, env: str, classes: int) -> list[str]:
        """Queue `segments` of task `env` for rating on `classes` classes; returns their
        ids. A segment already finished or waiting is not queued again."""
        if segments.states is None:
            raise ValueError("segments without physics states cannot be shown to a person")
        ids = segment_ids(segments)
        with self._lock:
            active = self._active()
            for i, segment_id in enumerate(ids):
                if segment_id in self._rated | self._skipped or segment_id in self._pending:
                    continue
                one = segments.take(slice(i, i + 1))
                wanted = self._overlap.wanted(segment_id, active)
                earlier = self._earlier.pop(segment_id, [])
                self._pending[segment_id] = _Pending(one, queue, env, classes, wanted, earlier)
                self._finish_if_answered(segment_id)
        return ids

    def withdraw(self, queue: str) -> int:
        """Drop every pending segment of `queue` (its trial ended); returns how many."""
        with self._lock:
            gone = [k for k, p in self._pending.items() if p.queue == queue]
            for segment_id in gone:
                del self._pending[segment_id]
        return len(gone)

    # -- the page's side ---------------------------------------------------------------
    def next(self, annotator: str = "") -> Waiting | None:
        """The oldest segment waiting for an answer from `annotator` that is not on
        enough other annotators' screens to be answered without them, or None."""
        with self._lock:
            for segment_id in list(self._pending):  # a revoked annotator may finish some
                self._finish_if_answered(segment_id)
            now, active = time.monotonic(), self._active()
            for segment_id, p in self._pending.items():
                if p.answered_by(annotator):
                    continue
                still = min(p.wanted, max(1, active)) - len(p.answers)
                if p.held_by_others(annotator, now) >= still:
                    continue  # others are watching it and will finish it
                p.shown_to[annotator] = now
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
    ) -> HumanRating | None:
        """Record `annotator`'s rating (on disk when this returns); the segment's one
        label if this answer finished it, else None."""
        if isinstance(label, bool) or not isinstance(label, int):
            raise BadRating(f"rating must be an integer class, got {label!r}")
        with self._lock:
            pending = self._pending_or_raise(segment_id)
            if not 0 <= label < pending.classes:
                raise BadRating(f"rating {label} is outside 0..{pending.classes - 1}")
            answer = Answer(segment_id, annotator, label, float(response_s), time.time(),
                            pending.queue)  # fmt: skip
            finished = self._answer_and_finish(pending, answer)
            self._given[annotator, "rated"] += 1
            return finished

    def skip(self, segment_id: str, annotator: str = "") -> str:
        """Leave a segment unrated by `annotator`: not shown to them again. Returns its
        queue."""
        with self._lock:
            pending = self._pending_or_raise(segment_id)
            answer = Answer(segment_id, annotator, None, float("nan"), time.time(), pending.queue)
            self._answer_and_finish(pending, answer)
            self._given[annotator, "skipped"] += 1
        return pending.queue

    def pending_in(self, queue: str) -> list[str]:
        """The ids of the segments of `queue` still waiting, oldest first."""
        with self._lock:
            return [segment_id for segment_id, p in self._pending.items() if p.queue == queue]

    def progress(self, annotator: str | None = None) -> dict[str, int]:
        """Answers given this session and segments waiting: `annotator`'s, or everyone's."""
        with self._lock:
            mine = (lambda name: name == annotator) if annotator is not None else bool
            given = {kind: sum(n for (a, k), n in self._given.items() if k == kind and mine(a))
                     for kind in ("rated", "skipped")}  # fmt: skip
            if annotator is None:
                waiting = len(self._pending)
            else:
                waiting = sum(not p.answered_by(annotator) for p in self._pending.values())
            return {**given, "pending": waiting}

    # -- inside the lock ---------------------------------------------------------------
    def _answer_and_finish(self, pending: _Pending, answer: Answer) -> HumanRating | None:
        """Log the answer, then finish the segment if it has all it waits for. A write
        that fails leaves the segment waiting for this annotator (the log may keep the
        answer: after a restart the last answer per annotator counts)."""
        if pending.answered_by(answer.annotator):
            raise AlreadyRated(f"{answer.annotator} already answered segment {answer.segment_id}")
        if self._on_answer is not None:
            self._on_answer(answer)  # raises: nothing changes here
        pending.answers.append(answer)
        try:
            return self._finish_if_answered(answer.segment_id)
        except BaseException:
            pending.answers.remove(answer)
            raise

    def _finish_if_answered(self, segment_id: str) -> HumanRating | None:
        """Finish a segment with all the answers it waits for (no more than there are
        active annotators): its one label to the store, or a skip."""
        p = self._pending[segment_id]
        if len(p.answers) < min(p.wanted, max(1, self._active())):
            return None
        rated = [a for a in p.answers if a.rating is not None]
        if not rated:
            if self._on_skipped is not None:
                self._on_skipped(segment_id, p.queue)
            del self._pending[segment_id]
            self._skipped.add(segment_id)
            return None
        rating = HumanRating(
            segment_id,
            consensus([a.rating for a in rated]),
            "+".join(a.annotator for a in rated),
            time.time(),
            median_response(rated),
            p.queue,
        )
        self._on_rated(p.segment, rating)  # raises: the segment stays pending
        del self._pending[segment_id]
        self._rated.add(segment_id)
        return rating

    def _pending_or_raise(self, segment_id: str) -> _Pending:
        pending = self._pending.get(segment_id)
        if pending is not None:
            return pending
        if segment_id in self._rated:
            raise AlreadyRated(f"segment {segment_id} is already rated")
        if segment_id in self._skipped:
            raise AlreadyRated(f"segment {segment_id} was skipped")
        raise UnknownSegment(f"no segment {segment_id} is waiting for a rating")
