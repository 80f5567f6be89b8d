"""Every answer an annotator gave, and the one label per segment the reward model sees.

`labels.jsonl` beside a rated store holds one line per answer (a rating or a skip,
who gave it, how long they watched, when), appended and fsynced before the page
hears back. A segment chosen for overlap (`Overlap`) waits for answers from
`count` different annotators (at most as many as are active); the others wait for
one. When a segment has its answers, its label is the lower median of its ratings
(`consensus`; skips do not vote) and that one label goes into the rated store; a
segment everyone skipped stays unrated.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pydantic import Field

from rbrl_ray.validation import StrictModel

LABELS_FILE = "labels.jsonl"


@dataclass(frozen=True)
class Answer:
    """One annotator's answer to one segment: a rating, or None for a skip."""

    segment_id: str
    annotator: str
    rating: int | None
    response_s: float  # seconds from showing the segment to the answer (the page's clock)
    answered_at: float  # unix time the answer reached the desk
    queue: str


class Overlap(StrictModel):
    """Which segments more than one annotator rates (for agreement figures)."""

    fraction: float = Field(0.0, ge=0.0, le=1.0, description="share of segments rated by several")
    count: int = Field(2, ge=2, le=10, description="annotators per overlapping segment")

    def chosen(self, segment_id: str) -> bool:
        """Whether a segment overlaps: its content id (a hash, so uniform) read as a
        fraction of 2^32 falls below `fraction` -- the same choice on every restart."""
        return int(segment_id[:8], 16) < self.fraction * 2**32

    def wanted(self, segment_id: str, annotators: int) -> int:
        """Answers a segment waits for, with `annotators` active annotators."""
        return min(self.count, max(1, annotators)) if self.chosen(segment_id) else 1


def consensus(ratings: list[int]) -> int:
    """The lower median: a class that was given, and for two annotators the more
    cautious of their two ratings."""
    ordered = sorted(ratings)
    return ordered[(len(ordered) - 1) // 2]


class LabelLog:
    """`folder/labels.jsonl`: every answer, in the order given."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LABELS_FILE

    def append(self, answer: Answer) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(asdict(answer)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[Answer]:
        """Every answer on disk; a last line cut short by a crash is left out."""
        if not self.path.exists():
            return []
        answers = []
        for line in self.path.read_text().splitlines():
            try:
                answers.append(Answer(**json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                continue  # only a torn last write can look like this
        return answers

    def by_segment(self) -> dict[str, dict[str, int | None]]:
        """segment id -> {annotator: rating or None}, from every answer on disk."""
        out: dict[str, dict[str, int | None]] = {}
        for answer in self.read():
            out.setdefault(answer.segment_id, {})[answer.annotator] = answer.rating
        return out


def median_response(answers: list[Answer]) -> float:
    return float(np.median([a.response_s for a in answers])) if answers else float("nan")


def answers_of(folder: Path) -> list[Answer]:
    """Every answer given for the rated store in `folder`: its label log, or, for a
    store from before label logs, one answer per rated segment from its annotations."""
    log = LabelLog(folder)
    if log.path.exists():
        return log.read()
    from rbrl_ray.feedback.segments import segment_ids
    from rbrl_ray.feedback.store import RatedStore

    store = RatedStore(folder)
    loaded = store.load()
    if loaded is None:
        return []
    notes = store.annotations()
    return [
        Answer(segment_id, str(who), int(label), float(response), float(at), "offline")
        for segment_id, label, who, response, at in zip(
            segment_ids(loaded[0]),
            loaded[1],
            notes["annotator"],
            notes["response_s"],
            notes["rated_at"],
            strict=True,
        )
    ]
