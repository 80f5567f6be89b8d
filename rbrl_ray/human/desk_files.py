"""Where the rating desk keeps what it must not lose: every answer, and every
segment still waiting on the page.

A desk works in a local folder. Given a storage URI (a sweep with `--storage s3://`
or `gs://`), that folder is a working copy: on start the desk replaces it with
storage's copy, and each file it writes is uploaded before the page (or the trial
that queued the segment) hears back. Storage is therefore the record: whatever was
acknowledged is there, and a desk restarted on another node, after its first node
and disk are gone, starts from it. Without a URI the local folder is the record.

Waiting segments are kept per queue in `queues/<queue>/waiting/NNNNNN.npz` (one
file per batch a trial queued, with the task and class count to show them on), so
a restarted desk puts back on the page every segment a trial still waits for.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rbrl_ray.feedback.mirror import StorageMirror, is_remote
from rbrl_ray.feedback.segments import Segments

WAITING = "waiting"


def desk_folders(where: str) -> tuple[Path, str | None]:
    """(local folder, storage URI or None) of a desk kept at `where`: a local folder,
    or a storage URI, whose working copy goes in a per-desk folder under the node's
    temporary directory."""
    if not is_remote(where):
        return Path(where.removeprefix("file://")), None
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", where.split("://", 1)[1].split("?")[0])
    digest = hashlib.sha256(where.encode()).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / "rbrl_ray_rating_desk" / f"{readable}-{digest}", where


@dataclass(frozen=True)
class WaitingBatch:
    segments: Segments
    env: str
    classes: int


class DeskFiles:
    """The desk's folder, and the storage copy it is kept in (if any)."""

    def __init__(self, root: Path, remote: str | None = None) -> None:
        self.root = Path(root)
        self.mirror = StorageMirror.of_uri(remote, self.root) if remote else None
        if self.mirror is not None:
            self.mirror.copy_down(replace=True)  # storage is the record (module docstring)

    def keep(self, path: Path) -> None:
        """`path` (just written, fsynced) reaches storage before this returns."""
        if self.mirror is not None:
            self.mirror.upload(path)

    # -- waiting segments ---------------------------------------------------------
    def save_waiting(self, queue_dir: Path, segments: Segments, env: str, classes: int) -> None:
        folder = queue_dir / WAITING
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{len(list(folder.glob('*.npz'))):06d}.npz"
        partial = folder / f".{final.name}.partial"
        with open(partial, "wb") as handle:
            np.savez(handle, obs=segments.obs, act=segments.act, states=segments.states,
                     true_rewards=segments.true_rewards, env=env, classes=classes)  # fmt: skip
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(final)
        self.keep(final)

    def waiting(self, queue_dir: Path) -> Iterator[WaitingBatch]:
        """Every batch queued into `queue_dir` and not withdrawn, oldest first."""
        for path in sorted((queue_dir / WAITING).glob("*.npz")):
            with np.load(path) as data:
                segments = Segments(data["obs"], data["act"], data["true_rewards"], data["states"])
                yield WaitingBatch(segments, str(data["env"]), int(data["classes"]))

    def drop_waiting(self, queue_dir: Path) -> None:
        """Forget the queue's waiting segments (its trial ended), here and in storage."""
        folder = queue_dir / WAITING
        if self.mirror is not None:
            self.mirror.delete(folder)
        shutil.rmtree(folder, ignore_errors=True)
