"""The rating desk's record: per trial's queue, every answer given (a rated store with
annotations, the label log, the skips), kept in the desk's folder (and in storage,
through DeskFiles) before the page hears back; and the answers a trial asks for.

The page's threads write here while a trial's calls read, so the in-memory copy of
each queue's answers is guarded by one lock, and `answers` reads what still waits
before the answers: the desk adds a rating to the record before it stops waiting
for it, so a trial told "nothing waits" is never missing an answer.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.feedback.store import RatedStore
from rbrl_ray.human.desk import HumanRating
from rbrl_ray.human.desk_files import DeskFiles
from rbrl_ray.human.labels import Answer, LabelLog
from rbrl_ray.human.offline import annotations_of

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
SKIPS_FILE = "skipped.txt"


@dataclass
class QueueAnswers:
    """A queue's answers so far, as on disk."""

    segments: list[Segments] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    annotations: list[dict[str, np.ndarray]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> QueueAnswers:
        answers = cls()
        store = RatedStore(folder)
        loaded = store.load()
        if loaded is not None:
            answers.segments.append(loaded[0])
            answers.labels += loaded[1].tolist()
            answers.annotations.append(store.annotations())
        skips = folder / SKIPS_FILE
        answers.skipped = skips.read_text().split() if skips.exists() else []
        return answers

    def add(self, segment: Segments, label: int, notes: dict[str, np.ndarray]) -> None:
        self.segments.append(segment)
        self.labels.append(label)
        self.annotations.append(notes)

    def as_dict(self) -> dict[str, Any]:
        if not self.labels:
            return {"rated": None, "annotations": None, "skipped": list(self.skipped)}
        notes = {
            name: np.concatenate([a[name] for a in self.annotations])
            for name in self.annotations[0]
        }
        rated = (Segments.concat(self.segments), np.array(self.labels, np.int64))
        return {"rated": rated, "annotations": notes, "skipped": list(self.skipped)}


class DeskRecord:
    """Every queue's answers under `files.root / "queues"`."""

    def __init__(self, files: DeskFiles) -> None:
        self.files = files
        self._queues: dict[str, QueueAnswers] = {}  # read from disk once, then kept up to date
        self._lock = threading.Lock()

    def queue_dir(self, queue: str) -> Path:
        if not QUEUE_NAME.match(queue):
            raise ValueError(f"queue names are [A-Za-z0-9_.-]{{1,128}}, got {queue!r}")
        return self.files.root / "queues" / queue

    def queue_dirs(self) -> list[Path]:
        return sorted((self.files.root / "queues").glob("*"))

    def answered_ids(self) -> tuple[list[str], list[str]]:
        """The ids of every segment rated, and of every one skipped, in any queue."""
        rated: list[str] = []
        skipped: list[str] = []
        for folder in self.queue_dirs():
            loaded = RatedStore(folder).load()
            if loaded is not None:
                rated += segment_ids(loaded[0])
            skips = folder / SKIPS_FILE
            if skips.exists():
                skipped += skips.read_text().split()
        return rated, skipped

    def earlier_answers(self) -> list[Answer]:
        return [a for folder in self.queue_dirs() for a in LabelLog(folder).read()]

    # -- the desk's writers (called inside its lock) -------------------------------
    def write_rating(self, segment: Segments, rating: HumanRating) -> None:
        answers = self._answers_of(rating.queue)  # loaded before the new file lands
        notes = annotations_of([rating])
        store = RatedStore(self.queue_dir(rating.queue), mirror=self.files.mirror)
        store.append(segment, np.array([rating.label]), notes)
        with self._lock:
            answers.add(segment, rating.label, notes)

    def write_answer(self, answer: Answer) -> None:
        log = LabelLog(self.queue_dir(answer.queue))
        log.append(answer)
        self.files.keep(log.path)

    def write_skip(self, segment_id: str, queue: str) -> None:
        answers = self._answers_of(queue)
        path = self.queue_dir(queue) / SKIPS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            handle.write(segment_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.files.keep(path)
        with self._lock:
            answers.skipped.append(segment_id)

    # -- what trials read -----------------------------------------------------------
    def answers(self, queue: str, waiting_in: Callable[[str], list[str]]) -> dict[str, Any]:
        """Every answer given for `queue`, and `waiting`: the ids of its segments still
        on the page (read first: see the module docstring)."""
        waiting = waiting_in(queue)
        answers = self._answers_of(queue)
        with self._lock:
            return {**answers.as_dict(), "waiting": waiting}

    def _answers_of(self, queue: str) -> QueueAnswers:
        with self._lock:  # the page's threads and the trials' calls load it alike
            if queue not in self._queues:
                self._queues[queue] = QueueAnswers.load(self.queue_dir(queue))
            return self._queues[queue]
