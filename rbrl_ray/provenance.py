"""What made a result: the source commit, the packages, the machine.

A campaign runs from a `git archive` snapshot (no .git), so the commit is written
into this file by git itself: `.gitattributes` marks it `export-subst`, and
`git archive` replaces the placeholder below with the archived commit. In a
checkout the placeholder stays and the commit comes from git.
"""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

ARCHIVE_COMMIT = "$Format:%H$"
PACKAGES = ("ray", "torch", "mujoco", "dm_control", "gymnasium", "numpy")
SOURCE = Path(__file__).resolve().parent


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(SOURCE), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def source_commit() -> dict[str, Any]:
    """{"commit", "dirty", "from"}: from a `git archive` snapshot (never dirty), a git
    checkout (dirty: tracked files differ from the commit), or unknown (None)."""
    if not ARCHIVE_COMMIT.startswith("$"):
        return {"commit": ARCHIVE_COMMIT, "dirty": False, "from": "git archive"}
    head = _git("rev-parse", "HEAD")
    if head is None:
        return {"commit": None, "dirty": None, "from": "unknown"}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": head.strip(), "dirty": bool(status and status.strip()), "from": "git"}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if "model name" in line)
    except (OSError, StopIteration):
        return "unknown cpu"


def provenance() -> dict[str, Any]:
    """Everything above, as one JSON-ready dict."""
    return {
        "source": source_commit(),
        "packages": package_versions(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
    }
