"""What a trial finds again when Tune restores it: its config (read past Tune's
placeholders) and its ratings folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow.fs
from ray.tune.impl.placeholder import _RefResolver

from rbrl_ray.feedback.mirror import StorageMirror

logger = logging.getLogger(__name__)


def _holds_placeholder(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_placeholder(v) for v in value.values())
    if isinstance(value, tuple | list):
        if len(value) == 2 and value[0] == _RefResolver.TOKEN:
            return True
        return any(_holds_placeholder(v) for v in value)
    return False


def without_placeholders(config: dict[str, Any]) -> dict[str, Any]:
    """`config` without the settings that hold Tune's reference placeholders
    ("__ref_ph", id), anywhere inside them (a dict of classes goes whole).

    Tune replaces each object in a param space (a class, a function) by such a
    placeholder and resolves it when it makes a trial; a restored run left them
    unresolved in trials it made after the restore. Every such setting is either
    RatingPPOConfig's own (learner, callbacks) or set again from the spec by
    `for_trial`, so the placeholder is dropped and the setting comes from there.
    """
    return {key: value for key, value in config.items() if not _holds_placeholder(value)}


def trial_queue(trainable: Any) -> str:
    """The trial's queue on the rating desk: under Tune its folder name (unique in the
    run, the same for every attempt); else the trainable's id. Not `trial_id` under
    Tune: inside an Algorithm it is "default" for every trial, so a sweep's trials
    would share one queue and take each other's answers."""
    storage = getattr(trainable, "_storage", None)
    name = storage.trial_dir_name if storage is not None else None
    return name or trainable.trial_id


def trial_ratings_mirror(trainable: Any, working: Path) -> StorageMirror | None:
    """With remote storage, the mirror that uploads each rated-store file written under
    `working` to the trial's ratings folder in storage as it is written; None with
    storage on a local or mounted file system (the store is written there directly)."""
    storage = getattr(trainable, "_storage", None)
    if storage is None or isinstance(storage.storage_filesystem, pyarrow.fs.LocalFileSystem):
        return None
    return StorageMirror(storage.storage_filesystem, f"{storage.trial_fs_path}/ratings", working)


def trial_ratings_dir(trainable: Any) -> Path:
    """The trial's ratings folder, the same for every attempt of the trial.

    Tune runs each attempt in a working folder of its own Ray session and syncs it
    to storage now and then, so a sweep resumed in a new session would not see the
    ratings its earlier attempts stored there (nor those made after the last sync).
    With storage on a local or mounted file system the ratings therefore go
    straight to the trial's folder in storage: durable as soon as written, and
    found by every later attempt. With remote storage (s3://, gs://) they are written
    in the working folder and each file is uploaded as it is written
    (`trial_ratings_mirror`); the stored lineages are copied down first. Outside
    Tune: <logdir>/ratings.
    """
    working = Path(trainable.logdir) / "ratings"
    storage = getattr(trainable, "_storage", None)
    if storage is None:
        return working
    if isinstance(storage.storage_filesystem, pyarrow.fs.LocalFileSystem):
        return Path(storage.trial_fs_path) / "ratings"
    mirror = StorageMirror(storage.storage_filesystem, f"{storage.trial_fs_path}/ratings", working)
    if mirror.copy_down():
        logger.info("copied the trial's stored ratings down from %s", mirror.remote_root)
    return working
