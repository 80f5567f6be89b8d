"""What Tune's restore leaves in a trial's config, and how a config is read past it."""

from __future__ import annotations

from typing import Any

from ray.tune.impl.placeholder import _RefResolver


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
