"""Segments, synthetic raters and the rated-segment store."""

from rbrl_ray.feedback.rater import RaterConfig, RaterNoise, SyntheticRater
from rbrl_ray.feedback.segments import SEGMENT_LENGTH, Segments, cut_segments
from rbrl_ray.feedback.store import RatedStore

__all__ = [
    "SEGMENT_LENGTH",
    "RaterConfig",
    "RaterNoise",
    "RatedStore",
    "Segments",
    "SyntheticRater",
    "cut_segments",
]
