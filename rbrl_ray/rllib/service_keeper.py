"""The trial's hold on its RatingService actor: starts it, and replaces it when it dies.

Every call the trial's driver makes goes through `ServiceKeeper.call`. When the
actor has died (killed, out of memory, its node lost), the keeper starts a new
one and restores it from the service state of the trial's last checkpoint (the
state `get_state` last returned; the trial's start when there is none yet). The
new service holds every rating its predecessor stored after that state and uses
each when the schedule reaches its query (service.py, `set_state`), so nothing rated
is lost or asked again. Then
the keeper hands the new actor to the learners and EnvRunners and repeats the
call. The policy is untouched: it lives in the learner, not in the service.

A trial that starts afresh where an earlier attempt of it stored ratings (Tune
retrying a trial that failed before its first checkpoint, a sweep resumed) takes
those over the same way before its first query, instead of asking again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError
from ray.util.placement_group import get_current_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.feedback.mirror import StorageMirror
from rbrl_ray.feedback.store import lineages
from rbrl_ray.rllib.service import RatingService

logger = logging.getLogger(__name__)


def service_bundle(spec: ExperimentSpec) -> dict[str, float] | None:
    """The rating service's own bundle in the trial's placement group (None: it runs in
    the trial's main bundle, reserving nothing of its own)."""
    bundle = {k: v for k, v in (("CPU", spec.service_cpus), ("GPU", spec.service_gpus)) if v > 0}
    return bundle or None


def start_rating_service(
    spec: ExperimentSpec,
    root: Path,
    queue: str = "trial",
    desk_root: str | None = None,
    mirror: StorageMirror | None = None,
) -> Any:
    """The trial's RatingService actor, placed in the trial's own bundle when it has one.

    Inside a Tune trial every actor is captured by the trial's placement group;
    `default_resource_request` adds the service's bundle as the last one.
    """
    group = get_current_placement_group()
    options: dict[str, Any] = {"num_cpus": spec.service_cpus, "num_gpus": spec.service_gpus}
    if group is not None and service_bundle(spec) is not None:
        options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
            group, placement_group_bundle_index=len(group.bundle_specs) - 1
        )
    threads = (
        max(1, int(spec.service_cpus)) if spec.service_cpus >= 1 else min(2, os.cpu_count() or 1)
    )
    options["runtime_env"] = {"env_vars": {"OMP_NUM_THREADS": str(threads)}}
    actor = (
        ray.remote(RatingService)
        .options(**options)
        .remote(spec.model_dump(mode="json"), str(root), queue, desk_root, mirror)  # fmt: skip
    )
    ray.get(actor.ping.remote())
    return actor


class ServiceKeeper:
    """Owns the trial's RatingService actor; `on_new_actor` is told of each one."""

    def __init__(
        self,
        spec: ExperimentSpec,
        root: Path,
        queue: str,
        desk_root: str,
        on_new_actor: Callable[[Any], None],
        mirror: StorageMirror | None = None,
    ) -> None:
        self._start = lambda: start_rating_service(spec, root, queue, desk_root, mirror)
        self.on_new_actor = on_new_actor
        self.actor = self._start()
        self.restarts = 0
        self.last_state: dict[str, Any] | None = None  # the last checkpoint's service state
        # ratings of an earlier attempt of this trial, to use again unless a checkpoint
        # is restored first (which holds them itself)
        self.earlier_attempt = bool(lineages(root))
        on_new_actor(self.actor)

    def call(self, method: str, *args: Any) -> Any:
        """`actor.method(*args)`, on a new actor if the current one has died."""
        if self.earlier_attempt:
            self.earlier_attempt = False
            reused = self.call("set_state", None)
            logger.warning(
                "holds %d ratings an earlier attempt of this trial stored, for their queries",
                reused,
            )
        try:
            return ray.get(getattr(self.actor, method).remote(*args))
        except RayActorError as err:
            self.replace(err)
            return ray.get(getattr(self.actor, method).remote(*args))

    def get_state(self) -> dict[str, Any]:
        """The service's state for a checkpoint; kept as the state a replacement
        starts from."""
        self.last_state = self.call("get_state")
        return self.last_state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint's service state (a dead actor is replaced from it)."""
        self.last_state, self.earlier_attempt = state, False
        try:
            ray.get(self.actor.set_state.remote(state))
        except RayActorError as err:
            self.replace(err)

    def replace(self, cause: BaseException) -> None:
        """Start a new service from `last_state` plus the ratings stored after it."""
        try:
            ray.kill(self.actor)  # a hung or half-dead actor must not answer again
        except (RayActorError, ValueError):
            pass
        self.actor = self._start()
        reused = ray.get(self.actor.set_state.remote(self.last_state))
        self.restarts += 1
        logger.warning(
            "rating service died (%s); replaced it (restart %d), restored from the %s and "
            "holds %d ratings stored after it, for their queries",
            type(cause).__name__,
            self.restarts,
            "last checkpoint" if self.last_state is not None else "trial's start",
            reused,
        )
        self.on_new_actor(self.actor)

    def close(self) -> None:
        """Take the trial's segments off the rating page and end the actor."""
        try:
            ray.get(self.actor.close.remote(), timeout=60)
        except (ray.exceptions.RayError, TimeoutError):
            pass  # a dead or stuck service has nothing on the page worth waiting for
        ray.kill(self.actor)
