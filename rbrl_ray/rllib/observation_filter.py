"""Running mean/std observation normalisation whose statistics are those of every
observation seen, however many EnvRunners sample and however often they sync.

RLlib 2.60's MeanStdFilter merges runners wrongly (docs/rllib_filter_merge_repro.py
shows it with RLlib alone). Each runner's `RunningStat` keeps, beside its totals,
"delta" fields meant to describe the samples pushed since the last sync, and the
merge (`RunningStat.update`) combines them with Chan et al.'s pairwise formula. But
`push` accumulates `mean_delta += (x - mean) / n_total`, which is the change of the
total mean since the sync, not the mean of the new samples, and `sum_sq_diff_delta`
is the change of the total sum of squares, which holds a cross term besides the new
samples' own spread. So after each sync the merged mean is pulled toward zero and the
variance grows. In local mode (no remote runners) nothing is merged and RLlib's
statistics are right: the two layouts normalised differently (issue 30).

The delta fields still determine the new samples' statistics exactly, given the
totals: with N the total count, n of them new, N0 = N - n, and M, S the total mean
and sum of squared deviations,

    mean before the sync   M0 = M - mean_delta
    new samples' mean      m  = M0 + mean_delta * N / n
    their own spread       s  = sum_sq_diff_delta - N0 * n / N * (M0 - m)^2

(the second line is N*M = N0*M0 + n*m; the third is Chan's combination solved for s).
`PooledMeanStdFilter.merge_states` rewrites each runner's deltas that way before
RLlib's own pairwise update, so the merged statistics equal one RunningStat over all
observations (tests/test_observation_filter.py).

`freeze_after` stops updating the statistics once the runner's filter has seen that
many observations (RbRL's VecNormalize never stops; a normaliser that stops keeps
the reward model's and the policy's inputs on one scale once ratings start).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import tree
from ray.rllib.connectors.env_to_module import MeanStdFilter
from ray.rllib.utils.filter import RunningStat
from ray.rllib.utils.numpy import SMALL_NUMBER


def samples_since_sync(stats: RunningStat) -> RunningStat:
    """`stats` with its delta fields rewritten to the statistics of the samples pushed
    since the last sync alone (count, mean, sum of squared deviations from that mean),
    which is what `RunningStat.update` takes them for."""
    fixed = stats.copy()
    n = stats.num_pushes_delta
    if n == 0:
        return fixed
    total, before = float(stats.num_pushes), float(stats.num_pushes - n)
    mean_before = stats.mean_array - stats.mean_delta_array
    mean_new = mean_before + stats.mean_delta_array * (total / n)
    fixed.mean_delta_array = mean_new
    cross = (before * n / total) * np.square(mean_before - mean_new)
    fixed.sum_sq_diff_delta_array = np.maximum(stats.sum_sq_diff_delta_array - cross, 0.0)
    return fixed


def pooled_states(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """EnvRunner filter states (MeanStdFilter.get_state) with every RunningStat's
    deltas made the new samples' own (samples_since_sync)."""
    return [
        {
            agent: {
                **agent_state,
                "running_stats": [
                    samples_since_sync(RunningStat.from_state(s)).to_state()
                    for s in agent_state["running_stats"]
                ],
            }
            for agent, agent_state in state.items()
        }
        for state in states
    ]


def normalised(f: Any, x: np.ndarray) -> np.ndarray:
    """`x` normalised by the statistics of RLlib's MeanStdFilter `f` (not updated):
    MeanStdFilter.__call__'s arithmetic."""
    y = x
    if f.demean:
        y = y - f.running_stats.mean_array
    if f.destd:
        y = y / (std(f.running_stats) + SMALL_NUMBER)
    if f.clip:
        y = np.minimum(np.maximum(y, -f.clip), f.clip)  # np.clip, without its overhead
    return y.astype(x.dtype)


def std(stats: RunningStat) -> np.ndarray:
    """RunningStat.std, the same float32 arithmetic."""
    if stats.num_pushes <= 1:
        return np.zeros(stats.mean_array.shape, np.float32)
    var = (stats.sum_sq_diff_array / (float(stats.num_pushes) - 1)).astype(np.float32)
    return np.sqrt(np.maximum(0, var))


class PooledMeanStdFilter(MeanStdFilter):
    """RLlib's MeanStdFilter with a merge that pools the runners' samples exactly, and
    statistics that can stop updating after `freeze_after` observations.

    `merge="rllib"` keeps RLlib 2.60's merge, to reproduce records made with it.
    """

    def __init__(
        self,
        *args: Any,
        merge: Literal["pooled", "rllib"] = "pooled",
        freeze_after: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.merge, self.freeze_after = merge, freeze_after

    def merge_states(self, states: list[dict[str, Any]]) -> dict[str, Any]:
        return super().merge_states(pooled_states(states) if self.merge == "pooled" else states)

    def statistics_frozen(self) -> bool:
        """Whether the statistics have seen `freeze_after` observations (every flattened
        component is pushed once per observation, so any one's count will do)."""
        if self.freeze_after is None or self._filters is None:
            return False
        first = tree.flatten(next(iter(self._filters.values())).running_stats)[0]
        return first.num_pushes >= self.freeze_after

    def updating(self) -> bool:
        """Whether this call pushes observations into the statistics."""
        return self._update_stats and not self.statistics_frozen()

    def __call__(self, **kwargs: Any) -> Any:
        if not (self._update_stats and self.statistics_frozen()):
            return super().__call__(**kwargs)
        self._update_stats = False  # RLlib's piece reads this flag in each call
        try:
            return super().__call__(**kwargs)
        finally:
            self._update_stats = True


# RLlib gives a MeanStdFilter's statistics and its update flag, and an EnvRunner's
# env-to-module pipeline, no public accessors; the functions below (and the class
# above, which extends MeanStdFilter) are the only places outside rllib/lean/ that
# reach them.


def running_filter(piece: MeanStdFilter) -> Any | None:
    """The single-agent running filter (`running_stats`, `demean`, ...) of a
    MeanStdFilter piece; None before it saw an observation."""
    filters = getattr(piece, "_filters", None)
    return filters[None] if filters else None


def env_to_module(env_runner: Any) -> Any:
    """A single-agent EnvRunner's env-to-module connector pipeline."""
    return env_runner._env_to_module


def filter_pieces(env_runner: Any) -> list[MeanStdFilter]:
    """The MeanStdFilter pieces of an EnvRunner's env-to-module pipeline."""
    return [p for p in env_to_module(env_runner).connectors if isinstance(p, MeanStdFilter)]


@contextmanager
def frozen_filters(env_runner: Any) -> Iterator[None]:
    """The EnvRunner's observation filters normalise without updating their statistics."""
    pieces = filter_pieces(env_runner)
    before = [p._update_stats for p in pieces]
    for piece in pieces:
        piece._update_stats = False
    try:
        yield
    finally:
        for piece, update in zip(pieces, before, strict=True):
            piece._update_stats = update
