"""Settings a sweep varies: a list where the YAML expects one value is a grid over it.

    reward_model:
      alpha: [0.1, 1, 10]     # three values of eq. 3's alpha
      k: [10, 30]             # x two of eq. 2's k: six settings per trial of the grid
    ppo:
      hidden: [[64, 64], [256, 256, 256]]   # a list setting varies as a list of lists

Every combination of the varied settings (Tune's `grid_search`, in YAML order) is
crossed with the sweep's own axes (envs × methods × classes × seeds). A setting
whose value is itself a list (`ppo.hidden`) varies only when given a list of lists.
The sweep's own axes and its bookkeeping (name, W&B project, retries) do not vary.
"""

from __future__ import annotations

import itertools
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel

from rbrl_ray.experiment import PPOSettings
from rbrl_ray.validation import ConfigError

#: Top-level settings of a sweep that are not the spec's: never a grid over them.
NOT_VARIED = frozenset(
    {"name", "envs", "methods", "classes", "seeds", "wandb_project", "env_settings",
     "checkpoint_every", "max_failures"}
)  # fmt: skip
#: Sections whose schema is not their own field type (the sweep keeps `ppo` as overrides).
SECTION_MODELS: dict[str, type[BaseModel]] = {"ppo": PPOSettings}


def _is_sequence(annotation: Any) -> bool:
    """Whether a field's type holds a list or tuple (in an Optional, too)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(arg) for arg in typing.get_args(annotation))
    return origin in (list, tuple, Sequence) or annotation in (list, tuple)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _varies(value: Any, sequence_field: bool) -> bool:
    if not isinstance(value, list):
        return False
    return all(isinstance(v, list) for v in value) if sequence_field else True


def find_varied(raw: dict[str, Any], schema: type[BaseModel]) -> dict[str, list[Any]]:
    """Dotted path -> values, for every setting of `raw` (a sweep YAML's mapping, read
    against `schema`) given as a list of values. Unknown keys are left to validation."""
    found: dict[str, list[Any]] = {}

    def walk(section: dict[str, Any], model: type[BaseModel], prefix: str) -> None:
        for key, value in section.items():
            field = model.model_fields.get(key)
            if field is None or (not prefix and key in NOT_VARIED):
                continue
            inner = SECTION_MODELS.get(key) if not prefix else None
            inner = inner or _model_of(field.annotation)
            if inner is not None and isinstance(value, dict):
                walk(value, inner, f"{prefix}{key}.")
            elif _varies(value, _is_sequence(field.annotation)):
                if not value:
                    raise ConfigError(f"{prefix}{key}: an empty list varies over nothing")
                found[f"{prefix}{key}"] = value

    walk(raw, schema, "")
    return found


def with_values(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of `raw` with each dotted path set to its value."""
    out = {**raw}
    for path, value in values.items():
        *sections, leaf = path.split(".")
        node = out
        for section in sections:
            node[section] = {**node[section]}
            node = node[section]
        node[leaf] = value
    return out


def combinations(varied: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """Every combination of the varied settings' values, the first setting slowest."""
    for values in itertools.product(*varied.values()):
        yield dict(zip(varied, values, strict=True))


def short_names(paths: Sequence[str]) -> dict[str, str]:
    """Each dotted path's last part, or the whole path where two share a last part."""
    leaves = [p.rsplit(".", 1)[-1] for p in paths]
    return {
        p: leaf if leaves.count(leaf) == 1 else p for p, leaf in zip(paths, leaves, strict=True)
    }


def value_of(spec_json: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a spec's JSON form."""
    node: Any = spec_json
    for part in path.split("."):
        node = node[part]
    return node


def describe(varied: dict[str, list[Any]]) -> str:
    """The varied settings as a dry run prints them: `a.b: 1, 2; c: x, y`."""
    return "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in varied.items())


def label(value: Any) -> str:
    """A value as it reads in a trial name or a tag: 0.1, 64x64, true."""
    if isinstance(value, list | tuple):
        return "x".join(label(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
