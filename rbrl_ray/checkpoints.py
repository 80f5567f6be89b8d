"""A single trial's checkpoint folder (the `train` command): written so that a kill
never leaves none, and checked before a resume so that a damaged one is one clear
line, not a traceback from deep inside RLlib.

`save` writes DIR/checkpoint.new, renames DIR/checkpoint to checkpoint.old, renames
the new one into place and deletes the old one. A kill between the renames leaves
checkpoint.old and a complete checkpoint.new: `finish_interrupted_save` completes
the swap.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

from rbrl_ray.jsonio import DamagedFile

CHECKPOINT_DIR = "checkpoint"
ADVICE = (
    "the trial's ratings are intact in its ratings/ folder; restore the checkpoint "
    "from a backup or start a new trial"
)


def _paths(out: Path) -> tuple[Path, Path, Path]:
    return out / CHECKPOINT_DIR, out / f"{CHECKPOINT_DIR}.new", out / f"{CHECKPOINT_DIR}.old"


def save(algo: Any, out: Path) -> None:
    """Write the checkpoint beside the old one, then swap: a kill never leaves none."""
    final, fresh, old = _paths(out)
    shutil.rmtree(fresh, ignore_errors=True)
    algo.save_to_path(str(fresh.resolve()))
    if final.exists():
        final.rename(old)
    fresh.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def finish_interrupted_save(out: Path) -> str | None:
    """Complete a swap a kill interrupted; returns what was done, or None."""
    final, fresh, old = _paths(out)
    if final.is_dir() or not (fresh.is_dir() and old.is_dir()):
        return None  # nothing interrupted (a lone checkpoint.new may be half-written)
    fresh.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return f"completed an interrupted checkpoint save: {fresh.name} -> {final.name}"


def check(checkpoint: Path, needs_service: bool) -> None:
    """Read every file of `checkpoint` that a restore reads; DamagedFile names the
    first that cannot be read, or a rating service state that is missing."""
    for path in sorted(checkpoint.rglob("*")):
        if path.suffix == ".pkl":
            _load(path, pickle.loads)
        elif path.suffix == ".json":
            _load(path, json.loads)
    state_file = checkpoint / "algorithm_state.pkl"
    if not state_file.is_file():
        raise DamagedFile(checkpoint, "checkpoint", "algorithm_state.pkl is missing", ADVICE)
    state = _load(state_file, pickle.loads)
    service = state.get("rating_service") if isinstance(state, dict) else None
    if needs_service and not _holds_ratings(service):
        problem = "it holds no rating service state (ratings, reward model)"
        raise DamagedFile(state_file, "checkpoint", problem, ADVICE)


def _load(path: Path, parse: Any) -> Any:
    try:
        data = path.read_bytes()
        return parse(data)
    except Exception as err:  # unpickling can raise nearly anything on damaged bytes
        problem = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        raise DamagedFile(path, "checkpoint file", problem, ADVICE) from None


def _holds_ratings(service: Any) -> bool:
    try:
        ratings = service["ratings"]
        return len(ratings["labels"]) == len(ratings["obs"]) and "trainer" in service
    except (KeyError, TypeError):
        return False
