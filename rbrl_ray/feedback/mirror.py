"""Ratings that reach remote storage when they are made.

With storage on a local or mounted disk a trial's rated store lives in storage
itself. With remote storage (s3://, gs://) it lives in the trial's working folder
on its node, and Tune copies that folder up only now and then: a node that died
between two syncs took the ratings made since with it. A `StorageMirror` closes
that gap: each store file, once written and fsynced locally, is uploaded to the
same relative path under the trial's folder in storage before `append` returns --
a person's rating before the page hears back, a synthetic query's ratings before
the query's results reach the learner. One upload per store file: one per query.
The rating desk keeps its answers the same way (human/desk_files.py).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow.fs


def is_remote(location: str) -> bool:
    """A storage URI (s3://, gs://, ...), not a local folder or file:// path."""
    return "://" in location and not location.startswith("file://")


def join_uri(uri: str, *parts: str) -> str:
    """`uri` with `parts` appended to its path, its query (an S3 endpoint) kept."""
    scheme, netloc, path, query, fragment = urlsplit(uri)
    path = "/".join([path.rstrip("/"), *parts])
    return urlunsplit((scheme, netloc, path, query, fragment))


@dataclass(frozen=True)
class StorageMirror:
    """Uploads files under `local_root` to `remote_root` on `filesystem`, as written."""

    filesystem: pyarrow.fs.FileSystem
    remote_root: str  # a path on `filesystem` (for S3: bucket/key prefix)
    local_root: Path

    @classmethod
    def of_uri(cls, uri: str, local_root: Path) -> StorageMirror:
        filesystem, path = pyarrow.fs.FileSystem.from_uri(uri)
        return cls(filesystem, path, Path(local_root))

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

    def delete(self, path: Path) -> None:
        """Remove the file or folder at local `path` from storage (it may not be there)."""
        remote = self.remote_path(path)
        info = self.filesystem.get_file_info(remote)
        if info.type == pyarrow.fs.FileType.Directory:
            self.filesystem.delete_dir(remote)
        elif info.type == pyarrow.fs.FileType.File:
            self.filesystem.delete_file(remote)

    def stored(self) -> bool:
        return self.filesystem.get_file_info(self.remote_root).type == pyarrow.fs.FileType.Directory

    def copy_down(self, replace: bool = False) -> bool:
        """Copy what storage holds under `remote_root` into `local_root`; with `replace`,
        the local folder is first emptied, so it holds storage's copy and nothing else.
        False (and nothing touched) when storage holds nothing there yet."""
        if not self.stored():
            return False
        if replace:
            shutil.rmtree(self.local_root, ignore_errors=True)
        self.local_root.mkdir(parents=True, exist_ok=True)
        pyarrow.fs.copy_files(
            self.remote_root, str(self.local_root), source_filesystem=self.filesystem
        )
        return True
