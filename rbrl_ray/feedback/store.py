"""Rated-segment store: appends each batch of ratings to disk as it arrives.

Layout: one `ratings_NNNNNN.npz` per append, written to a temporary name and
renamed into place, so a crash mid-write never leaves a partial file and
nothing already stored is ever rewritten. Loading concatenates the files in
order and returns exactly what was appended.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rbrl_ray.feedback.segments import Segments

_PATTERN = "ratings_*.npz"


class RatedStore:
    """The ratings of one trial, on disk under `root`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _files(self) -> list[Path]:
        return sorted(self.root.glob(_PATTERN))

    def __len__(self) -> int:
        total = 0
        for path in self._files():
            with np.load(path) as data:
                total += len(data["labels"])
        return total

    def append(self, segments: Segments, labels: np.ndarray) -> Path:
        """Write one batch of rated segments; returns its file."""
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) != len(segments):
            raise ValueError(f"{len(segments)} segments but {len(labels)} labels")
        index = len(self._files())
        final = self.root / f"ratings_{index:06d}.npz"
        partial = self.root / f".ratings_{index:06d}.npz.partial"
        with open(partial, "wb") as handle:
            np.savez(
                handle,
                obs=segments.obs,
                act=segments.act,
                true_rewards=segments.true_rewards,
                labels=labels,
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)
        return final

    def load(self) -> tuple[Segments, np.ndarray] | None:
        """Every rated segment and its label, in append order; None when empty."""
        files = self._files()
        if not files:
            return None
        parts: list[Segments] = []
        labels: list[np.ndarray] = []
        for path in files:
            with np.load(path) as data:
                parts.append(Segments(data["obs"], data["act"], data["true_rewards"]))
                labels.append(data["labels"])
        return Segments.concat(parts), np.concatenate(labels)
