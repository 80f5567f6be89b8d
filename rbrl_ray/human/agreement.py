"""How far annotators agree: Krippendorff's alpha for ordinal ratings, and each
annotator's progress, skips and response times.

Alpha (Krippendorff 2011, "Computing Krippendorff's alpha-reliability") is 1 for
perfect agreement and 0 for agreement no better than chance; ordinal, because a
rating of 0 against 2 is a worse disagreement than 0 against 1. It is computed by
the maintained `krippendorff` package over the segments at least two raters
rated (skips do not count), and is NaN where there is no such pair or only one
value was ever given. Each annotator is compared with the others (the lower
median of the others' ratings of each shared segment) and, where the segments'
true returns are known, with the classes a noise-free synthetic rater gives them
(`feedback.rater`, the rating range the store's session records).
"""

from __future__ import annotations

from dataclasses import dataclass

import krippendorff
import numpy as np

from rbrl_ray.human.labels import Answer, consensus


def alpha(matrix: np.ndarray, classes: int) -> float:
    """Ordinal alpha of a [raters, units] matrix of classes (NaN: not rated)."""
    matrix = np.asarray(matrix, np.float64)
    pairable = np.sum(~np.isnan(matrix), axis=0) >= 2
    values = matrix[:, pairable]
    if not pairable.any() or len(np.unique(values[~np.isnan(values)])) < 2:
        return float("nan")
    return float(
        krippendorff.alpha(
            reliability_data=values,
            level_of_measurement="ordinal",
            value_domain=list(range(classes)),
        )
    )


def ratings_by_segment(answers: list[Answer]) -> dict[str, dict[str, int]]:
    """segment id -> {annotator: rating}, ratings only (a later answer replaces none:
    the desk takes one answer per annotator and segment)."""
    out: dict[str, dict[str, int]] = {}
    for a in answers:
        if a.rating is not None:
            out.setdefault(a.segment_id, {})[a.annotator] = a.rating
    return out


def matrix_of(by_segment: dict[str, dict[str, int]], annotators: list[str]) -> np.ndarray:
    """[annotators, segments] ratings, NaN where an annotator did not rate."""
    segments = sorted(by_segment)
    out = np.full((len(annotators), len(segments)), np.nan)
    for j, segment in enumerate(segments):
        for i, name in enumerate(annotators):
            if name in by_segment[segment]:
                out[i, j] = by_segment[segment][name]
    return out


def against_others(by_segment: dict[str, dict[str, int]], name: str, classes: int) -> float:
    """Alpha of `name` against the lower median of the others on shared segments."""
    pairs = [
        (given[name], consensus([r for who, r in given.items() if who != name]))
        for given in by_segment.values()
        if name in given and len(given) >= 2
    ]
    return alpha(np.array(pairs, np.float64).T.reshape(2, -1), classes)


def against_reference(
    by_segment: dict[str, dict[str, int]], name: str | None, reference: dict[str, int], classes: int
) -> float:
    """Alpha of `name`'s ratings (None: each segment's consensus) against `reference`
    classes (segment id -> class), on the segments both have."""
    pairs = []
    for segment, given in by_segment.items():
        if segment not in reference or (name is not None and name not in given):
            continue
        mine = given[name] if name is not None else consensus(list(given.values()))
        pairs.append((mine, reference[segment]))
    return alpha(np.array(pairs, np.float64).T.reshape(2, -1), classes)


@dataclass(frozen=True)
class AnnotatorFigures:
    name: str
    active: bool
    rated: int
    skipped: int
    median_response_s: float
    waiting: int | None  # segments of the session's pool still waiting for them
    alpha_vs_others: float
    alpha_vs_synthetic: float

    @property
    def skip_rate(self) -> float:
        answered = self.rated + self.skipped
        return self.skipped / answered if answered else float("nan")


def annotator_figures(
    answers: list[Answer],
    name: str,
    active: bool,
    classes: int,
    synthetic: dict[str, int],
    waiting: int | None,
) -> AnnotatorFigures:
    mine = [a for a in answers if a.annotator == name]
    rated = [a for a in mine if a.rating is not None]
    by_segment = ratings_by_segment(answers)
    return AnnotatorFigures(
        name=name,
        active=active,
        rated=len(rated),
        skipped=len(mine) - len(rated),
        median_response_s=float(np.median([a.response_s for a in rated])) if rated else np.nan,
        waiting=waiting,
        alpha_vs_others=against_others(by_segment, name, classes),
        alpha_vs_synthetic=against_reference(by_segment, name, synthetic, classes),
    )
