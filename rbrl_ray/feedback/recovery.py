"""Ratings a restored rating service takes over instead of asking for them again.

A rating service restored from a checkpoint (after its own death, a failed trial,
a resume) starts from the checkpoint's ratings. Whatever its previous run rated
after that checkpoint is on disk in the trial's newest lineage (the store is the
source of truth for ratings): `unrestored` finds those ratings, by segment id,
so the restored service adds them to its own instead of asking for them again.
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

    def queries_done_after(self, queries_done: int, per_query: int) -> int:
        """The schedule position once these ratings are counted: past the last query
        that asked for one (stores from before query indices: one query per
        `per_query` ratings)."""
        known = self.queries[self.queries != UNKNOWN_QUERY]
        position = max(queries_done, int(known.max()) + 1) if len(known) else queries_done
        unknown = int((self.queries == UNKNOWN_QUERY).sum())
        return position + -(-unknown // per_query)


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
