"""Names the add-on's modules share, and the one way to read a trial's spec.

Only `rbrl_ray.experiment` is imported here, so every module of the add-on can
import this one without forming a cycle.
"""

from __future__ import annotations

from typing import Any

from rbrl_ray.experiment import ExperimentSpec

#: Where the experiment spec rides in `config.learner_config_dict` (a Tune grid
#: varies only this entry).
SPEC_KEY = "rbrl_spec"
#: Where the spec that built a config's own settings is kept (see RatingPPOConfig).
BUILT_FROM_KEY = "rbrl_built_from"
#: Optional override of <trial dir>/ratings in `learner_config_dict`.
RATING_DIR_KEY = "rbrl_rating_dir"
#: Where the rating desk keeps its answers (`rater: human`), in `learner_config_dict`;
#: a sweep sets one folder for all its trials. Default: <trial dir>/rating_desk.
DESK_DIR_KEY = "rbrl_desk_dir"
#: The dotted spec settings a sweep varies (`sweep/varied.py`), in `learner_config_dict`:
#: trial names, W&B tags and the console table show their values.
VARIED_KEY = "rbrl_varied"
#: The attribute under which an EnvRunner keeps the rating service's handle.
SERVICE_ATTR = "rbrl_rating_service"
#: The checkpoint component that holds the rating service's state.
SERVICE_COMPONENT = "rating_service"


def learner_extras(config: Any) -> dict[str, Any]:
    """`learner_config_dict` of an AlgorithmConfig or of its dict form (as Tune passes it)."""
    if isinstance(config, dict):
        return config.get("learner_config_dict") or {}
    return getattr(config, "learner_config_dict", None) or {}


def spec_of(config: Any) -> ExperimentSpec | None:
    """The experiment spec a config (object or dict) carries, or None."""
    raw = learner_extras(config).get(SPEC_KEY)
    if raw is None:
        return None
    return raw if isinstance(raw, ExperimentSpec) else ExperimentSpec.from_stored(raw)
