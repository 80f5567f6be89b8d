"""Ratings a restored rating service reuses rather than asking for them again.

A rating service restored from a checkpoint (after its own death, a failed trial,
a resume) starts from the checkpoint's ratings. Whatever its previous run rated
after that checkpoint is on disk in the trial's newest lineage (the store is the
source of truth for ratings): `unrestored` finds those ratings, by segment id, and
`by_query` sorts them by the schedule query that asked for each, so the restored
service uses them when its schedule reaches that query instead of asking again.
Not at once: a model fit to them iterations early would train the policy on a
reward the schedule had not yet earned (campaign v2's superseded records).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.feedback.store import ANNOTATION_FIELDS, UNKNOWN_QUERY, RatedStore, StoreFile


@dataclass(frozen=True)
class Unrestored:
    """Ratings on disk that a restored state lacks, in the order they were made."""

    segments: Segments
    labels: np.ndarray
    queries: np.ndarray  # the query that asked for each, or UNKNOWN_QUERY
    annotations: dict[str, np.ndarray]  # a person's, where the files hold them
    source: Path | None

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> Unrestored:
        notes = {name: values[index] for name, values in self.annotations.items()}
        return Unrestored(
            self.segments.take(index), self.labels[index], self.queries[index], notes, self.source
        )

    def by_query(self, queries_done: int, per_query: int) -> dict[int, Unrestored]:
        """These ratings by the schedule query that asked for them, with an entry for
        every query from `queries_done` to the last one that asked (empty where a query
        got no answer: the previous run moved past it). Ratings from stores without
        query indices count as `per_query` a query, after the known ones."""
        at = np.maximum(self.queries, queries_done)
        unknown = self.queries == UNKNOWN_QUERY
        known = self.queries[~unknown]
        start = max(queries_done, int(known.max()) + 1) if len(known) else queries_done
        at[unknown] = start + np.arange(int(unknown.sum())) // per_query
        if not len(at):
            return {}
        return {q: self.take(np.flatnonzero(at == q)) for q in range(queries_done, at.max() + 1)}


def unrestored(lineage: Path | None, restored: list[str], obs_dim: int, act_dim: int) -> Unrestored:
    """The ratings of `lineage` beyond those whose segment ids `restored` lists.

    Counted as a multiset: a pool can hold the same segment twice (segments are cut
    at independent random offsets), and each copy rated is a rating of its own. A
    restored state's ratings are a prefix of the newest lineage's, so what is left
    over, in order, is exactly what the previous run rated after that state.
    """
    files = RatedStore(lineage).files() if lineage is not None else []
    held, picked = Counter(restored), []
    for file in files:
        for index, sid in enumerate(segment_ids(file.segments)):
            if held[sid]:
                held[sid] -= 1
            else:
                picked.append((file, index))
    if not picked:
        empty = Segments.empty(obs_dim, act_dim)
        return Unrestored(empty, np.zeros(0, np.int64), np.zeros(0, np.int64), {}, lineage)
    return Unrestored(
        Segments.concat([file.segments.take(slice(i, i + 1)) for file, i in picked]),
        np.array([file.labels[i] for file, i in picked], np.int64),
        np.array([file.queries[i] for file, i in picked], np.int64),
        _annotations(picked),
        lineage,
    )


def _annotations(picked: list[tuple[StoreFile, int]]) -> dict[str, np.ndarray]:
    if not any(file.annotations for file, _ in picked):
        return {}
    return {
        name: np.array([_note(file, name, i) for file, i in picked]) for name in ANNOTATION_FIELDS
    }


def _note(file: StoreFile, name: str, index: int) -> object:
    values = file.annotations.get(name)
    if values is not None:
        return values[index]
    return "" if name == "annotator" else np.nan
