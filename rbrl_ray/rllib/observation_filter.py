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

The piece is our own ConnectorV2, not a subclass of RLlib's MeanStdFilter, so that
nothing here reaches into RLlib's private members; it keeps MeanStdFilter's
arithmetic and its state format (`get_state`, one `RunningStat` per agent), so
checkpoints written with either load into the other, and its class names
(`PooledMeanStdFilter`, and `LeanMeanStdFilter` in `rllib/lean/`), under which RLlib's
pipelines file a piece's state in a checkpoint. tests/test_observation_filter.py
checks it against RLlib's MeanStdFilter, observation for observation and state for
state.

`freeze_after` stops updating the statistics once the runner's filter has seen that
many observations (RbRL's VecNormalize never stops; a normaliser that stops keeps
the reward model's and the policy's inputs on one scale once ratings start).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core import COMPONENT_ENV_TO_MODULE_CONNECTOR
from ray.rllib.utils.filter import RunningStat
from ray.rllib.utils.numpy import SMALL_NUMBER

Merge = Literal["pooled", "rllib"]


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


def normalised(f: Any, x: np.ndarray) -> np.ndarray:
    """`x` normalised by a filter's statistics (`running_stats`, `demean`, `destd`,
    `clip`), not updated: RLlib's MeanStdFilter arithmetic."""
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


class PooledMeanStdFilter(ConnectorV2):
    """Running mean/std normalisation of one agent's flat Box observations, with a merge
    that pools the runners' samples exactly and statistics that can stop updating
    after `freeze_after` observations.

    Each episode's newest observation updates the statistics, is normalised by them
    (then clipped to +-`clip_by_value`) and written back into the episode, so later
    pieces see only normalised observations, as with RLlib's MeanStdFilter. `updates`
    False holds the statistics still (evaluation does). `merge="rllib"` keeps RLlib
    2.60's merge, to reproduce records made with it.
    """

    def __init__(
        self,
        *,
        merge: Merge = "pooled",
        freeze_after: int | None = None,
        de_mean_to_zero: bool = True,
        de_std_to_one: bool = True,
        clip_by_value: float | None = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.merge, self.freeze_after = merge, freeze_after
        self.demean, self.destd, self.clip = de_mean_to_zero, de_std_to_one, clip_by_value
        self.updates = True
        self.stats: RunningStat | None = None  # made once the observation space is known

    def recompute_output_observation_space(
        self, input_observation_space: gym.Space, input_action_space: gym.Space
    ) -> gym.Space:
        space = input_observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(
                f"{type(self).__name__} normalises one flat Box observation; got {space}"
            )
        if not self.clip:
            return space
        return gym.spaces.Box(-self.clip, self.clip, space.shape, space.dtype)

    @property
    def running_stats(self) -> RunningStat:
        if self.stats is None:
            self.stats = RunningStat(self.input_observation_space.shape)
        return self.stats

    def statistics_frozen(self) -> bool:
        """Whether the statistics have seen `freeze_after` observations."""
        return self.freeze_after is not None and self.running_stats.num_pushes >= self.freeze_after

    def updating(self) -> bool:
        """Whether this call pushes observations into the statistics."""
        return self.updates and not self.statistics_frozen()

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], episodes: list[Any],
                 **kwargs: Any) -> Any:  # fmt: skip
        update = self.updating()
        for episode in self.single_agent_episode_iterator(episodes):
            x = np.asarray(episode.get_observations(indices=-1))
            if update:
                self.running_stats.push(x)
            episode.set_observations(at_indices=-1, new_data=normalised(self, x))
            # the episode's space must hold the normalised observation just written
            episode.observation_space = self.observation_space
        return batch  # RLlib's default pieces read the OBS column from the episodes

    def get_state(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        """MeanStdFilter's format: per agent id (None: single agent), the settings and
        a flat list of RunningStat states."""
        stats = self.running_stats
        return {
            None: {
                "shape": np.array(stats.shape),
                "de_mean_to_zero": self.demean,
                "de_std_to_one": self.destd,
                "clip_by_value": self.clip,
                "running_stats": [stats.to_state()],
            }
        }

    def set_state(self, state: dict[Any, Any]) -> None:
        (agent,) = state.values()
        self.demean, self.destd = agent["de_mean_to_zero"], agent["de_std_to_one"]
        self.clip = agent["clip_by_value"]
        (stats,) = agent["running_stats"]
        self.stats = RunningStat.from_state(stats)

    def reset_state(self) -> None:
        self.stats = None

    def merge_states(self, states: list[dict[Any, Any]]) -> dict[Any, Any]:
        """Each EnvRunner's samples since the last sync added to these statistics
        (RunningStat.update, Chan et al.'s pairwise formula), the deltas made the new
        samples' own first unless `merge` is "rllib"; the merged state."""
        mine = self.get_state()[None]
        for state in states:
            (agent,) = state.values()
            settings = ("de_mean_to_zero", "de_std_to_one", "clip_by_value")
            if any(agent[key] != mine[key] for key in settings):
                raise ValueError(f"filter states with different settings: {agent} vs {mine}")
            for stats in agent["running_stats"]:
                pushed = RunningStat.from_state(stats)
                if self.merge == "pooled":
                    pushed = samples_since_sync(pushed)
                self.running_stats.update(pushed)
        return self.get_state()


def read_filter(checkpoint: Path) -> PooledMeanStdFilter | None:
    """The observation filter of an env-to-module checkpoint folder (an EnvRunner's
    component), restored from its state alone, whichever class wrote it (ours, the
    lean one, RLlib's MeanStdFilter: one state format) and wherever that class lived
    then: RLlib's `from_checkpoint` would import the writing class by its old module
    path. None if the pipeline had no filter."""
    for piece in sorted(Path(checkpoint).iterdir()):
        if piece.is_dir() and piece.name.endswith("MeanStdFilter"):
            restored = PooledMeanStdFilter()
            restored.restore_from_path(piece)
            return restored
    return None


def env_to_module(env_runner: Any) -> Any:
    """An EnvRunner's env-to-module connector pipeline (its checkpointable component)."""
    return dict(env_runner.get_checkpointable_components())[COMPONENT_ENV_TO_MODULE_CONNECTOR]


def filter_pieces(env_runner: Any) -> list[PooledMeanStdFilter]:
    """The observation filters of an EnvRunner's env-to-module pipeline."""
    return [p for p in env_to_module(env_runner).connectors if isinstance(p, PooledMeanStdFilter)]


@contextmanager
def frozen_filters(env_runner: Any) -> Iterator[None]:
    """The EnvRunner's observation filters normalise without updating their statistics."""
    pieces = filter_pieces(env_runner)
    before = [p.updates for p in pieces]
    for piece in pieces:
        piece.updates = False
    try:
        yield
    finally:
        for piece, update in zip(pieces, before, strict=True):
            piece.updates = update
