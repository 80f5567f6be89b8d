"""RatingService: one per trial, the rating oracle and reward-model trainer.

EnvRunners send it candidate segments; the trial's driver advances it with the
env-step count after each iteration, which runs the query schedule (select from
the candidate pool, rate, append to the on-disk store, refit the reward model);
the Learner's relabeller pulls the newest weights. Its whole state (ratings,
reward model, optimiser, schedule position) goes into the trial's checkpoint.

With `schedule.background_fit` a fit runs in a thread of this actor while the
trial trains its next iteration, and is published (version + 1) by the next
`advance`, after waiting for it if it is still running. What the learners see
therefore depends only on the iteration count, never on timing: runs stay
reproducible, and the fit's time hides behind an iteration whenever the service
has a CPU of its own.

A restore (`set_state`: a checkpoint, or None for the trial's start when a service
that died before any checkpoint is replaced) also holds every rating the trial's
previous run stored after that state (feedback/recovery.py), and uses each when the
schedule reaches the query that asked for it, in place of asking: no rating is asked
twice, and the reward model sees ratings as the schedule grants them (taking them at
once fit models to ratings iterations early: campaign v2's superseded records).
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from rbrl_ray import metric_names as m
from rbrl_ray.envs import get_task
from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.feedback.mirror import StorageMirror
from rbrl_ray.feedback.query import Query, QuerySite, rater_for
from rbrl_ray.feedback.recovery import Unrestored, unrestored
from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.feedback.store import ANNOTATION_FIELDS, lineages, new_lineage
from rbrl_ray.reward.metrics import member_returns
from rbrl_ray.reward.trainer import FitReport, RewardTrainer

EXPLORE, MODEL = "explore", "model"


class RatingService:
    """Plain class; run it as a Ray actor with `ray.remote(RatingService)`."""

    def __init__(
        self,
        spec: dict[str, Any],
        root: str,
        queue: str = "trial",
        desk_root: str | None = None,
        mirror: StorageMirror | None = None,
    ) -> None:
        self.spec = ExperimentSpec.from_stored(spec)
        task = get_task(self.spec.env)
        self.dims = (task.obs_dim, task.act_dim)
        # the synthetic rater, or a person on the rating desk's page (feedback/query.py)
        self.rater = rater_for(self.spec, QuerySite(queue, Path(root), desk_root))
        self.trainer = RewardTrainer(
            *self.dims,
            self.spec.classes,
            self.spec.method,
            self.spec.reward_model,
            seed=self.spec.seed,
        )
        self.ratings_root = Path(root)
        self.mirror = mirror  # remote storage each store file reaches as it is written
        self.session = uuid.uuid4().hex  # changes on restore, so learners re-pull weights
        self.store = new_lineage(self.ratings_root, self.session[:8], self.mirror)
        self.rng = np.random.default_rng(self.spec.seed)
        self.pool: list[Segments] = []
        self.rated: Segments = Segments.empty(*self.dims)
        self.labels = np.zeros(0, np.int64)
        self.queries = np.zeros(0, np.int64)  # per rating: the query that asked for it
        self.annotations: dict[str, np.ndarray] | None = None  # a person's, per rating
        self.env_steps = 0
        self.queries_done = 0
        self.version = 0  # 0: untrained model; +1 per fit
        self.last_fit: FitReport | None = None
        self.segments_received = 0
        self.ratings_reused = 0  # taken over from earlier runs at restores
        # per query index: the ratings an earlier run got for it, used when it is due
        self.backlog: dict[int, Unrestored] = {}
        self.published = self._model_snapshot()  # the weights learners get
        self._fit_thread: threading.Thread | None = None
        self._pending: FitReport | None = None  # a finished fit, not yet published

    # -- candidates ---------------------------------------------------------------
    def add_segments(self, segments: Segments) -> None:
        """Keep the newest `pool_size` candidate segments."""
        self.segments_received += len(segments)
        self.pool.append(segments)
        overflow = sum(len(p) for p in self.pool) - self.spec.schedule.pool_size
        while overflow > 0 and self.pool:
            oldest = self.pool[0]
            if len(oldest) <= overflow:
                self.pool.pop(0)
                overflow -= len(oldest)
            else:
                self.pool[0] = oldest.take(slice(overflow, None))
                overflow = 0

    def pool_size(self) -> int:
        return sum(len(p) for p in self.pool)

    # -- schedule -----------------------------------------------------------------
    def advance(self, env_steps: int) -> dict[str, Any]:
        """Publish a background fit started by the previous call, run every query due
        by `env_steps`, refit once if any ran; return metrics."""
        self._publish_pending()
        self.env_steps = env_steps
        schedule, rated_before = self.spec.schedule, len(self.labels)
        while (
            self.queries_done < schedule.queries
            and len(self.labels) < schedule.total
            and env_steps >= schedule.query_step(self.queries_done)
        ):
            if self.queries_done in self.backlog:  # an earlier run's answer to it
                self._reuse(self.backlog.pop(self.queries_done))
            elif self.pool_size() > 0:
                self._query(min(schedule.per_query, schedule.total - len(self.labels)))
            else:
                break
            self.queries_done += 1
        if len(self.labels) > rated_before:
            self._refit()
        return self.metrics()

    # -- fitting ------------------------------------------------------------------
    def _refit(self) -> None:
        schedule = self.spec.schedule
        # Until a first model exists the learners train on the exploration reward; a
        # first fit in the background would extend that phase by one iteration.
        first = self.version == 0 and self._pending is None
        if schedule.background_fit and not (first and schedule.first_fit_blocks):
            self._start_background_fit()
        else:
            self._publish(self.trainer.fit(self.rated, self.labels))

    def _publish(self, report: FitReport) -> None:
        self.last_fit, self.version = report, self.version + 1
        self.published = self._model_snapshot()

    def _model_snapshot(self) -> dict[str, Any]:
        # on CPU: the learners that relabel with it may have no GPU
        return {k: v.detach().cpu().clone() for k, v in self.trainer.model.state_dict().items()}

    def _start_background_fit(self) -> None:
        rated, labels = self.rated, self.labels  # later queries rebind these, never mutate

        def fit() -> None:
            self._pending = self.trainer.fit(rated, labels)

        self._fit_thread = threading.Thread(target=fit, name="reward-model-fit", daemon=True)
        self._fit_thread.start()

    def _wait_for_fit(self) -> None:
        if self._fit_thread is not None:
            self._fit_thread.join()
            self._fit_thread = None

    def _publish_pending(self) -> None:
        self._wait_for_fit()
        if self._pending is not None:
            self._publish(self._pending)
            self._pending = None

    def _query(self, count: int) -> None:
        candidates = Segments.concat(self.pool)
        chosen = self._select(candidates, min(count, len(candidates)))
        answer = self.rater.query(Query(candidates, chosen, count, self.rated, self.rng))
        keep = np.setdiff1d(np.arange(len(candidates)), answer.used)
        self.pool = [candidates.take(keep)] if len(keep) else []
        if len(answer.labels):
            segments, labels, notes = answer.segments, answer.labels, answer.annotations
            self.store.append(segments, labels, notes, queries=self.queries_done)
            queries = np.full(len(labels), self.queries_done, np.int64)
            self._add_ratings(segments, labels, queries, notes)

    def _add_ratings(
        self,
        segments: Segments,
        labels: np.ndarray,
        queries: np.ndarray,
        notes: dict[str, np.ndarray] | None,
    ) -> None:
        held = len(self.labels)
        self.rated = Segments.concat([self.rated, segments])
        self.labels = np.concatenate([self.labels, labels])
        self.queries = np.concatenate([self.queries, queries])
        if notes or self.annotations:  # a person's; blanks where a side has none
            old = self.annotations or _blank_annotations(held)
            new = notes or _blank_annotations(len(labels))
            self.annotations = {k: np.concatenate([old[k], new[k]]) for k in ANNOTATION_FIELDS}

    def _select(self, candidates: Segments, count: int) -> np.ndarray:
        if self.spec.schedule.selection == "disagreement" and self.version > 0:
            spread = member_returns(self.trainer.model, candidates).std(axis=0)
            return np.argsort(-spread, kind="stable")[:count]
        return self.rng.choice(len(candidates), size=count, replace=False)

    # -- what the learner asks ----------------------------------------------------
    @property
    def phase(self) -> str:
        exploring = self.spec.schedule.explore_steps > 0 and self.version == 0
        return EXPLORE if exploring else MODEL

    def reward_source(self, known: tuple[str, int] | None) -> tuple[tuple[str, int], str, Any]:
        """(key, phase, weights); weights is None when `known` is already the newest."""
        key = (self.session, self.version)
        weights = None if known == key else self.published
        return key, self.phase, weights

    def metrics(self) -> dict[str, Any]:
        fit = self.last_fit
        out: dict[str, Any] = {
            m.NUM_RATINGS: int(len(self.labels)),
            m.CLASS_HISTOGRAM: np.bincount(self.labels, minlength=self.spec.classes).tolist(),
            m.POOL_SIZE: self.pool_size(),
            m.SEGMENTS_RECEIVED: self.segments_received,
            m.RM_VERSION: self.version,
            m.RM_PHASE: self.phase,
            m.RM_FIT_RUNNING: self._fit_thread is not None,
        }
        if self.ratings_reused:
            out[m.RATINGS_REUSED] = self.ratings_reused
        if fit is not None:
            out[m.RM_FIT_RATINGS] = fit.ratings
            out[m.RM_ACCURACY] = fit.train_accuracy
            out[m.RM_FIT_EPOCHS] = fit.epochs
            out[m.RM_FIT_SECONDS] = fit.seconds
            out[m.RM_DEVICE] = self.trainer.device.type
            if fit.sigma_cls is not None:
                out[m.SIGMA_CLS] = fit.sigma_cls
            if fit.sigma_reg is not None:
                out[m.SIGMA_REG] = fit.sigma_reg
        return out

    # -- checkpoint ---------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        self._wait_for_fit()  # a fit in flight lands in the state as pending, not lost
        return {
            "ratings": {
                "obs": self.rated.obs,
                "act": self.rated.act,
                "true_rewards": self.rated.true_rewards,
                "states": self.rated.states,
                "labels": self.labels,
                "queries": self.queries,
                "annotations": self.annotations,
            },
            "trainer": self.trainer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "env_steps": self.env_steps,
            "queries_done": self.queries_done,
            "version": self.version,
            "last_fit": None if self.last_fit is None else self.last_fit.__dict__,
            "published": self.published,
            "pending_fit": None if self._pending is None else self._pending.__dict__,
            "segments_received": self.segments_received,
            "ratings_reused": self.ratings_reused,
        }

    def set_state(self, state: dict[str, Any] | None) -> int:
        """Restore `state` (None: the trial's start), hold the ratings the trial's
        newest lineage has beyond it for the queries that asked for them, and start a
        new lineage with all of them. Returns how many are held."""
        self._wait_for_fit()  # no thread may train the model being replaced
        previous = lineages(self.ratings_root)  # before this run writes its own
        if state is not None:
            self._load_state(state)
        found = unrestored(previous[-1] if previous else None, segment_ids(self.rated), *self.dims)
        self.backlog = found.by_query(self.queries_done, self.spec.schedule.per_query)
        if len(found):
            print(
                f"rating service: holds {len(found)} ratings from {found.source} (made after "
                f"the restored state, for queries {min(self.backlog)}-{max(self.backlog)}); "
                "each is used when the schedule reaches its query",
                flush=True,
            )
        # A new lineage: the restored ratings, then the held ones (the store stays the
        # whole record, should this run die too); the old one stays as it is.
        self.session = uuid.uuid4().hex
        self.store = new_lineage(self.ratings_root, self.session[:8], self.mirror)
        if len(self.labels) or len(found):
            segments = Segments.concat([self.rated, found.segments])
            labels = np.concatenate([self.labels, found.labels])
            queries = np.concatenate([self.queries, found.queries])
            notes = _joined_annotations(self.annotations, len(self.labels), found)
            self.store.append(segments, labels, notes, queries=queries, restored=True)
        return len(found)

    def _reuse(self, found: Unrestored) -> None:
        """An earlier run's answer to the query now due, in place of asking again."""
        if len(found):
            self._add_ratings(
                found.segments, found.labels, found.queries, found.annotations or None
            )
            self.ratings_reused += len(found)

    def _load_state(self, state: dict[str, Any]) -> None:
        r = state["ratings"]
        self.rated = Segments(r["obs"], r["act"], r["true_rewards"], r.get("states"))
        self.labels = np.asarray(r["labels"], np.int64)
        # checkpoints from before query indices: unknown (store.UNKNOWN_QUERY)
        self.queries = np.asarray(r.get("queries", np.full(len(self.labels), -1)), np.int64)
        self.annotations = r.get("annotations")
        self.trainer.load_state_dict(state["trainer"])
        self.rng.bit_generator.state = state["rng"]
        self.env_steps, self.queries_done = state["env_steps"], state["queries_done"]
        self.version, self.segments_received = state["version"], state["segments_received"]
        self.ratings_reused = state.get("ratings_reused", 0)
        self.last_fit = FitReport(**state["last_fit"]) if state["last_fit"] else None
        pending = state.get("pending_fit")
        self._pending = FitReport(**pending) if pending else None
        # Checkpoints from before background fits carry no "published": the model is it.
        self.published = state.get("published") or self._model_snapshot()

    def close(self) -> None:
        """The trial ended: take its segments off the rating page (a fit still running
        is dropped with the actor)."""
        self.rater.close()

    def ping(self) -> bool:
        return True

    def node(self) -> str:
        """The Ray node this service runs on (rllib/nodes.py)."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def fit_in_progress(self) -> bool:
        """Whether a background fit is training right now (not merely unpublished)."""
        return self._fit_thread is not None and self._fit_thread.is_alive()

    def process_id(self) -> int:
        """The actor's OS process (what an operator, or a fault test, would kill)."""
        return os.getpid()


def _joined_annotations(
    held: dict[str, np.ndarray] | None, count: int, found: Unrestored
) -> dict[str, np.ndarray] | None:
    """A person's notes of `count` held ratings followed by `found`'s (None: none)."""
    if not held and not found.annotations:
        return None
    old = held or _blank_annotations(count)
    new = found.annotations or _blank_annotations(len(found))
    return {k: np.concatenate([old[k], new[k]]) for k in ANNOTATION_FIELDS}


def _blank_annotations(count: int) -> dict[str, np.ndarray]:
    """ANNOTATION_FIELDS of ratings without a person's notes (synthetic ones)."""
    return {
        "annotator": np.full(count, "", dtype="<U1"),
        "rated_at": np.full(count, np.nan),
        "response_s": np.full(count, np.nan),
    }
