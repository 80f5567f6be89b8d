"""Ratings that reach remote storage when they are made.

With storage on a local or mounted disk a trial's rated store lives in storage
itself. With remote storage (s3://, gs://) it lives in the trial's working folder
on its node, and Tune copies that folder up only now and then: a node that died
between two syncs took the ratings made since with it. A `StorageMirror` closes
that gap: each store file, once written and fsynced locally, is uploaded to the
same relative path under the trial's folder in storage before `append` returns --
a person's rating before the page hears back, a synthetic query's ratings before
the query's results reach the learner. One upload per store file: one per query.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs


@dataclass(frozen=True)
class StorageMirror:
    """Uploads files under `local_root` to `remote_root` on `filesystem`, as written."""

    filesystem: pyarrow.fs.FileSystem
    remote_root: str  # a path on `filesystem` (for S3: bucket/key prefix)
    local_root: Path

    def remote_path(self, path: Path) -> str:
        return f"{self.remote_root}/{Path(path).relative_to(self.local_root).as_posix()}"

    def upload(self, path: Path) -> str:
        """Copy the local file at `path` to its place in storage; returns that place."""
        destination = self.remote_path(path)
        parent = destination.rsplit("/", 1)[0]
        self.filesystem.create_dir(parent, recursive=True)
        with self.filesystem.open_output_stream(destination) as out:
            out.write(Path(path).read_bytes())
        return destination
