"""One rating query, as the rating service asks it of whoever rates.

The service owns the candidate pool and chooses which candidates it would like
rated (`chosen`, by its selection rule and its random generator); a rater answers
with the ratings it has and the candidates that leave the pool. Two raters answer
queries: the synthetic rater (below), and a person on the rating page
(`rbrl_ray.human.online.HumanQueries`). The service is given one by name
(`spec.rater`, resolved in `rater_for`) and knows nothing of the other.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rbrl_ray.feedback.rater import SKIPPED, SyntheticRater
from rbrl_ray.feedback.segments import Segments

#: spec.rater -> the class that answers its queries, "module:Class" (imported when a
#: trial needs it, so this floor imports nothing of the applications above it).
RATERS = {
    "synthetic": "rbrl_ray.feedback.query:SyntheticQueries",
    "human": "rbrl_ray.human.online:HumanQueries",
}


@dataclass(frozen=True)
class QuerySite:
    """Where a trial's queries are answered: its queue on a rating desk, its ratings
    folder, and the desk's folder or storage URI (None: beside the ratings)."""

    queue: str
    ratings_root: Path
    desk: str | None = None


@dataclass(frozen=True)
class Query:
    """What the service asks: up to `count` ratings of `candidates`, preferring
    `chosen`; `rated`: the trial's ratings so far; `rng`: the service's generator."""

    candidates: Segments
    chosen: np.ndarray
    count: int
    rated: Segments
    rng: np.random.Generator


@dataclass(frozen=True)
class QueryAnswer:
    """The ratings a query got, and which candidates leave the pool."""

    segments: Segments | None  # None: nothing rated
    labels: np.ndarray
    annotations: dict[str, np.ndarray] | None  # a person's, one per rating
    used: np.ndarray  # indices into the candidates


class QueryRater(Protocol):
    def query(self, q: Query) -> QueryAnswer: ...

    def close(self) -> None:
        """The trial ended."""
        ...


class SyntheticQueries:
    """The synthetic rater answers at once: a label for each chosen candidate (or a
    skip), drawn from its true return with the service's generator."""

    def __init__(self, spec: Any, site: QuerySite) -> None:  # spec: an ExperimentSpec
        self.rater = SyntheticRater(spec.rater_config())

    def query(self, q: Query) -> QueryAnswer:
        labels = self.rater.rate(q.candidates.take(q.chosen).true_returns, q.rng)
        kept = labels != SKIPPED
        return QueryAnswer(q.candidates.take(q.chosen[kept]), labels[kept], None, q.chosen)

    def close(self) -> None:
        pass


def rater_for(spec: Any, site: QuerySite) -> QueryRater:
    """The rater that answers `spec`'s queries (spec.rater names it)."""
    module, name = RATERS[spec.rater].split(":")
    return getattr(importlib.import_module(module), name)(spec, site)
