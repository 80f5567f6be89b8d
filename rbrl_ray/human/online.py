"""A person in the training loop: the rating service's side of the rating desk.

Policy (docs/human_ratings.md): a query blocks the trial until the person has
answered every segment it put on the page, so the schedule, the fits, the model
versions and the checkpoints are those of a synthetic run; a skipped segment is
left unrated, like the synthetic rater's skip noise. Every answer the desk holds
for this trial's queue and the trial has not used yet (given before a restart,
or while the trial was down) is used before anything new is asked: a rating
given is never asked again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray.exceptions import ActorDiedError, ActorUnschedulableError

from rbrl_ray.feedback.query import Query, QueryAnswer, QuerySite
from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.human.desk_service import get_desk

POLL_S = 1.0
REPORT_EVERY_S = 60.0


@dataclass(frozen=True)
class Answers:
    """Rated segments of one query, their labels and a person's annotations."""

    segments: Segments | None  # None: nothing rated
    labels: np.ndarray
    annotations: dict[str, np.ndarray]
    asked_ids: tuple[str, ...]  # the candidates this query put on the page

    @property
    def asked(self) -> int:
        return len(self.asked_ids)


class HumanRater:
    """Asks the desk for ratings of a trial's segments, reusing every answer."""

    def __init__(
        self,
        queue: str,
        env: str,
        classes: int,
        desk_root: str | Path,
        host: str,
        port: int,
        rating_range: tuple[float, float] | None = None,
    ):
        self.queue, self.env, self.classes = queue, env, classes
        self.rating_range = rating_range
        self._get_desk = lambda: get_desk(desk_root, host, port)
        self.desk = self._get_desk()
        self.url = self._call("url")

    def _call(self, method: str, *args: Any) -> Any:
        """`desk.method(*args)`. A desk whose node is gone cannot be restarted where it
        was (it is bound to its node): the first trial to find it gone starts it again
        on its own node, from its folder in storage, and repeats the call."""
        try:
            return ray.get(getattr(self.desk, method).remote(*args))
        except (ActorUnschedulableError, ActorDiedError):
            self.desk = self._get_desk()
            self.url = ray.get(self.desk.url.remote())
            print(f"{self.queue}: the rating desk moved to {self.url}", flush=True)
            return ray.get(getattr(self.desk, method).remote(*args))

    def rate(self, candidates: Segments, count: int, used: set[str]) -> Answers:
        """Up to `count` rated segments whose ids are not in `used` (the trial's
        ratings so far): answers the desk already holds first, then the first of
        `candidates` the desk has never seen put on the page; blocks until the page
        has answered them all."""
        answers = self._answers()
        ready = len(self._unused(answers, used))
        wanted = max(0, count - ready - len(answers["waiting"]))
        asked = self._new(candidates, answers, used)[:wanted]
        if len(asked):
            segments = candidates.take(asked)
            self._call("submit", segments, self.queue, self.env, self.classes, self.rating_range)
            before = f"{ready} answered and {len(answers['waiting'])} queued before"
            print(f"{self.queue}: {len(asked)} segments wait for a rating at {self.url} "
                  f"({before})", flush=True)  # fmt: skip
        asked_ids = tuple(segment_ids(candidates.take(asked))) if len(asked) else ()
        answers = self._wait_until_answered()
        index = self._unused(answers, used)[:count]
        if not len(index):
            return Answers(None, np.zeros(0, np.int64), {}, asked_ids)
        segments, labels = answers["rated"]
        notes = {name: values[index] for name, values in answers["annotations"].items()}
        return Answers(segments.take(index), labels[index], notes, asked_ids)

    @staticmethod
    def _new(candidates: Segments, answers: dict[str, Any], used: set[str]) -> np.ndarray:
        """Indices of the candidates the desk would queue, in order: not rated, skipped
        or waiting, and each once (a trial started again samples its earlier
        attempt's segments again; the desk asks nothing twice, so a query built
        from them would come back short)."""
        seen = set(used) | set(answers["skipped"]) | set(answers["waiting"])
        if answers["rated"] is not None:
            seen |= set(segment_ids(answers["rated"][0]))
        fresh = []
        for i, segment_id in enumerate(segment_ids(candidates)):
            if segment_id not in seen:
                seen.add(segment_id)
                fresh.append(i)
        return np.array(fresh, np.int64)

    def _answers(self) -> dict[str, Any]:
        return self._call("answers", self.queue)

    @staticmethod
    def _unused(answers: dict[str, Any], used: set[str]) -> np.ndarray:
        if answers["rated"] is None:
            return np.zeros(0, np.int64)
        ids = segment_ids(answers["rated"][0])
        return np.array([i for i, s in enumerate(ids) if s not in used], np.int64)

    def _wait_until_answered(self) -> dict[str, Any]:
        """The queue's answers once none of its segments waits on the page."""
        last_report = time.monotonic()
        while (answers := self._answers())["waiting"]:
            if time.monotonic() - last_report > REPORT_EVERY_S:
                self.url = self._call("url")  # a desk restarted elsewhere serves elsewhere
                print(f"{self.queue}: waiting for {len(answers['waiting'])} ratings at {self.url}",
                      flush=True)  # fmt: skip
                last_report = time.monotonic()
            time.sleep(POLL_S)
        return answers

    def withdraw(self) -> None:
        """Take this trial's segments off the page (the trial ended)."""
        self._call("withdraw", self.queue)


class HumanQueries:
    """A trial's queries answered by a person on the rating desk's page
    (feedback/query.py's QueryRater): the service's chosen candidates first, then the
    rest, since the desk asks nothing twice and the rater passes over what it has
    seen (a trial started again samples its earlier attempt's segments again)."""

    def __init__(self, spec: Any, site: QuerySite) -> None:  # spec: an ExperimentSpec
        page = spec.rating_page
        desk = site.desk or str(site.ratings_root.parent / "rating_desk")
        self.rater = HumanRater(site.queue, spec.env, spec.classes, desk, page.host, page.port,
                                tuple(spec.rating_range))  # fmt: skip

    def query(self, q: Query) -> QueryAnswer:
        """Answers given before (a restart) first, then the page; blocks."""
        candidates = q.candidates
        order = np.concatenate([q.chosen, np.setdiff1d(np.arange(len(candidates)), q.chosen)])
        answers = self.rater.rate(candidates.take(order), q.count, set(segment_ids(q.rated)))
        gone = set(answers.asked_ids)
        if answers.segments is not None:
            gone |= set(segment_ids(answers.segments))
        used = [i for i, segment_id in enumerate(segment_ids(candidates)) if segment_id in gone]
        notes = answers.annotations or None
        return QueryAnswer(answers.segments, answers.labels, notes, np.array(used, np.int64))

    def close(self) -> None:
        """Take the trial's segments off the page."""
        self.rater.withdraw()
