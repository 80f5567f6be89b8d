"""Rated-segment store: appends each batch of ratings to disk as it arrives.

Layout: one `ratings_NNNNNN.npz` per append, written to a temporary name and
renamed into place, so a crash mid-write never leaves a partial file and
nothing already stored is ever rewritten. Loading concatenates the files in
order and returns exactly what was appended.

A trial keeps its stores as lineages under one ratings folder: each run of its
rating service (the first, and one per restore from a checkpoint) writes a new
subfolder named `<YYYYmmdd-HHMMSS.ffffff>-<id>` (names sort in creation order),
starting with the ratings it restored.
The newest lineage is the trial's current ratings; older ones keep what earlier
runs collected (also ratings a restore rewound past), so nothing is overwritten,
even when node-local folders are synced to shared storage.

Each file says where its ratings came from: `query`, per rating, the index of the
schedule query that asked for it (-1 where unknown: stores written before this
field), and `restored`, whether the file is a copy a restore wrote (the restored
ratings plus those it holds from the previous lineage) rather than the answer
to a query. Counting only non-restored files therefore counts each rating once.
"""

from __future__ import annotations

import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rbrl_ray.feedback.segments import Segments
from rbrl_ray.validation import ConfigError

if TYPE_CHECKING:  # pyarrow only where a mirror is made
    from rbrl_ray.feedback.mirror import StorageMirror

_PATTERN = "ratings_*.npz"
UNKNOWN_QUERY = -1
#: Per-rating fields a person's ratings add (rating page); a synthetic file has none.
ANNOTATION_FIELDS = ("annotator", "rated_at", "response_s")


class DamagedStoreFile(ConfigError):
    """A file of a rated store that cannot be read; the message names it."""

    def __init__(self, path: Path, err: BaseException) -> None:
        super().__init__(
            f"{path}: damaged rated-store file ({type(err).__name__}: {err}); the store's "
            "other files are intact: move this one aside, or skip it (--skip-damaged)"
        )
        self.path = path


def _read(path: Path) -> dict[str, np.ndarray]:
    """Every array of one store file, checked to hold a batch of rated segments."""
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        Segments(arrays["obs"], arrays["act"], arrays["true_rewards"], arrays.get("states"))
        for field in ("labels", "query"):
            if field in arrays and len(arrays[field]) != len(arrays["true_rewards"]):
                raise ValueError(f"{field} and segments differ in number")
        return arrays
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise DamagedStoreFile(path, err) from None


@dataclass(frozen=True)
class StoreFile:
    """One file of a store: its ratings and where they came from."""

    path: Path
    segments: Segments
    labels: np.ndarray
    queries: np.ndarray  # per rating: the query that asked for it, or UNKNOWN_QUERY
    restored: bool  # a restore's copy, not the answer to a query
    annotations: dict[str, np.ndarray]  # a person's ANNOTATION_FIELDS, where given


def _store_file(path: Path, data: dict[str, np.ndarray]) -> StoreFile:
    n = len(data["labels"])
    states = data.get("states")  # None in stores from before physics states
    return StoreFile(
        path,
        Segments(data["obs"], data["act"], data["true_rewards"], states),
        data["labels"],
        np.asarray(data.get("query", np.full(n, UNKNOWN_QUERY)), np.int64),
        bool(data.get("restored", False)),
        {name: data[name] for name in ANNOTATION_FIELDS if name in data},
    )


class RatedStore:
    """The ratings of one trial, on disk under `root`.

    Reading a damaged file raises DamagedStoreFile naming it; with
    `skip_damaged=True` such files are left out (and listed in `skipped`), never
    deleted or rewritten.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        skip_damaged: bool = False,
        mirror: StorageMirror | None = None,
    ) -> None:
        self.root = Path(root)  # created by the first append: an unused store leaves no trace
        self.skip_damaged = skip_damaged
        self.skipped: list[Path] = []
        self.mirror = mirror  # remote storage each new file is uploaded to (feedback/mirror.py)

    def _files(self) -> list[Path]:
        return sorted(self.root.glob(_PATTERN))

    def _readable(self) -> list[dict[str, np.ndarray]]:
        return [data for _, data in self._readable_with_paths()]

    def _readable_with_paths(self) -> list[tuple[Path, dict[str, np.ndarray]]]:
        out, self.skipped = [], []
        for path in self._files():
            try:
                out.append((path, _read(path)))
            except DamagedStoreFile:
                if not self.skip_damaged:
                    raise
                self.skipped.append(path)
        return out

    def files(self) -> list[StoreFile]:
        """Every readable file, in append order."""
        return [_store_file(path, data) for path, data in self._readable_with_paths()]

    def __len__(self) -> int:
        return sum(len(data["labels"]) for data in self._readable())

    def append(
        self,
        segments: Segments,
        labels: np.ndarray,
        annotations: dict[str, np.ndarray] | None = None,
        *,
        queries: np.ndarray | int | None = None,
        restored: bool = False,
    ) -> Path:
        """Write one batch of rated segments (with their physics states, if recorded,
        a person's ANNOTATION_FIELDS, if given, and the query of each rating, if
        known); `restored` marks a restore's copy. Returns its file."""
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) != len(segments):
            raise ValueError(f"{len(segments)} segments but {len(labels)} labels")
        query = np.broadcast_to(
            np.asarray(UNKNOWN_QUERY if queries is None else queries, np.int64), labels.shape
        )
        arrays = {
            "obs": segments.obs,
            "act": segments.act,
            "true_rewards": segments.true_rewards,
            "labels": labels,
            "query": np.array(query),
            "restored": np.array(restored),
        }
        if segments.states is not None:
            arrays["states"] = segments.states
        for name, values in (annotations or {}).items():
            if name not in ANNOTATION_FIELDS or len(values) != len(labels):
                raise ValueError(f"annotation {name!r}: one of {ANNOTATION_FIELDS}, one per label")
            arrays[name] = np.asarray(values)
        self.root.mkdir(parents=True, exist_ok=True)
        index = len(self._files())
        final = self.root / f"ratings_{index:06d}.npz"
        partial = self.root / f".ratings_{index:06d}.npz.partial"
        try:
            with open(partial, "wb") as handle:
                np.savez(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
            raise
        _fsync_dir(self.root)  # the rename itself survives a crash
        if self.mirror is not None:
            self.mirror.upload(final)  # in remote storage before the caller hears back
        return final

    def load(self) -> tuple[Segments, np.ndarray] | None:
        """Every rated segment and its label, in append order; None when empty."""
        files = self._readable()
        if not files:
            return None
        parts: list[Segments] = []
        labels: list[np.ndarray] = []
        for data in files:
            states = data.get("states")  # None in stores from before physics states
            parts.append(Segments(data["obs"], data["act"], data["true_rewards"], states))
            labels.append(data["labels"])
        return Segments.concat(parts), np.concatenate(labels)

    def annotations(self) -> dict[str, np.ndarray]:
        """ANNOTATION_FIELDS of every rating, in append order: annotator "" and NaN
        times for ratings without them (synthetic ones)."""
        out: dict[str, list[np.ndarray]] = {name: [] for name in ANNOTATION_FIELDS}
        for data in self._readable():
            n = len(data["labels"])
            for name in ANNOTATION_FIELDS:
                blank = np.full(n, "" if name == "annotator" else np.nan)
                out[name].append(data.get(name, blank))
        return {
            name: np.concatenate(parts).astype(str if name == "annotator" else np.float64)
            if parts
            else np.zeros(0, str if name == "annotator" else np.float64)
            for name, parts in out.items()
        }


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_lineage(
    root: str | os.PathLike[str], run_id: str, mirror: StorageMirror | None = None
) -> RatedStore:
    """A fresh store under `root` for one run of a rating service (its files also
    uploaded by `mirror`, whose local root is `root`, as they are written)."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"{now % 1:.6f}"[1:]
    return RatedStore(Path(root) / f"{stamp}-{run_id}", mirror=mirror)


def lineages(root: str | os.PathLike[str]) -> list[Path]:
    """The lineage folders under `root`, oldest first."""
    root = Path(root)
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def load_latest(root: str | os.PathLike[str]) -> tuple[Segments, np.ndarray] | None:
    """The trial's current ratings: the newest lineage under `root`."""
    found = lineages(root)
    return RatedStore(found[-1]).load() if found else None
