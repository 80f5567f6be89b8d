"""Benchmark records on disk: an earlier record is moved aside, never overwritten."""

from __future__ import annotations

import time
from pathlib import Path


def move_aside(path: Path, why: str) -> Path:
    """Rename `path` to <stem>.<timestamp><suffix> beside it, say so, and return the new path."""
    aside = path.with_name(f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
    path.rename(aside)
    print(f"{path} {why}; moved it to {aside}")
    return aside
