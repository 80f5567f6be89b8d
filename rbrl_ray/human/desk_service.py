"""The rating desk of a Ray cluster: one named actor serving the rating page to
every trial with `rater: human` (the shared rating oracle of DESIGN.md).

Each trial queues its segments under its own queue name. Every answer is written
to disk under the desk's root before the page hears back (a rating into
`queues/<queue>/`, a rated store with annotations; a skip into
`queues/<queue>/skipped.txt`), and so is every batch a trial queues, so a desk that
dies and is started again, or a trial restarted from a checkpoint, finds every
answer the person gave and every segment still waiting. With remote storage the
root is a working copy of the desk's folder in storage (desk_files.py): the desk
comes back on another node with all of it when its node is lost.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from rbrl_ray.feedback.segments import Segments
from rbrl_ray.human.annotators import DEFAULT_ANNOTATOR, Roster
from rbrl_ray.human.desk import RatingDesk
from rbrl_ray.human.desk_files import DeskFiles, desk_folders
from rbrl_ray.human.desk_record import DeskRecord
from rbrl_ray.human.offline import SESSION_FILE, check_session

DESK_NAME = "rbrl_ray_rating_desk"
DESK_NAMESPACE = "rbrl_ray"
PAGE_FILE = "page.json"  # the page's URL and token, for the person (and the tests)
TOKEN_ENV = "RBRL_RATING_TOKEN"  # the first annotator's token, instead of a random one


class DeskService:
    """Plain class; run it as a named Ray actor with `get_desk`."""

    def __init__(self, where: str, host: str, port: int) -> None:
        from rbrl_ray.human.app import Videos, make_app
        from rbrl_ray.human.gl_backend import enable_rendering
        from rbrl_ray.human.server import ThreadedServer

        enable_rendering()  # the backend get_desk chose, in this worker's MUJOCO_GL
        root, remote = desk_folders(where)  # resolved here: a restart may be on another node
        self.files = DeskFiles(root, remote)
        self.record = DeskRecord(self.files)
        self.root = root
        rated, skipped = self.record.answered_ids()
        # more annotators: python -m rbrl_ray.rate --annotators NAMES --out ROOT
        self.roster = Roster(self.root)
        first = self.roster.active() or [DEFAULT_ANNOTATOR]
        self.token = self.roster.add(first[0], os.environ.get(TOKEN_ENV) or None).token
        self.files.keep(self.roster.path)
        self.desk = RatingDesk(
            self.record.write_rating,
            rated,
            self.record.write_skip,
            skipped,
            on_answer=self.record.write_answer,
            active_annotators=lambda: len(self.roster.active()),
            earlier=self.record.earlier_answers(),
        )
        self._put_back_waiting()
        app = make_app(self.desk, Videos(self.root / "videos"), self.roster)
        self.server = ThreadedServer(app, host, port).start()
        self.page_url = f"{self.server.url}/?token={self.token}"
        self._write_page_file()
        print(f"rating desk: rate segments at {self.page_url}", flush=True)

    def _put_back_waiting(self) -> None:
        """Queue again every batch trials queued before a restart (answered segments
        are not asked again: the desk knows them)."""
        for folder in self.record.queue_dirs():
            for batch in self.files.waiting(folder):
                self.desk.submit(batch.segments, folder.name, batch.env, batch.classes)

    def _write_page_file(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / f".{PAGE_FILE}.partial"
        links = {
            name: f"{self.server.url}/?token={annotator.token}"
            for name, annotator in self.roster.annotators().items()
            if not annotator.revoked
        }
        partial.write_text(json.dumps({"url": self.server.url, "token": self.token,
                                       "links": links}))  # fmt: skip
        os.chmod(partial, 0o600)  # the token lets whoever reads it rate
        partial.replace(self.root / PAGE_FILE)
        self.files.keep(self.root / PAGE_FILE)  # a person finds the page of a moved desk

    # -- what trials ask ----------------------------------------------------------
    def url(self) -> str:
        return self.page_url

    def submit(
        self,
        segments: Segments,
        queue: str,
        env: str,
        classes: int,
        rating_range: tuple[float, float] | None = None,
    ) -> list[str]:
        """Queue a trial's segments; the queue's folder records its env, classes and
        the trial's rating range (for `rate --status`'s synthetic comparison)."""
        folder = self.record.queue_dir(queue)  # a bad name fails here, before anything is queued
        if not (folder / SESSION_FILE).exists():
            check_session(folder, env, classes, rating_range)
            self.files.keep(folder / SESSION_FILE)
        ids = self.desk.submit(segments, queue, env, classes)
        self.files.save_waiting(folder, segments, env, classes)  # before the trial hears back
        return ids

    def answers(self, queue: str) -> dict[str, Any]:
        """Every answer given for `queue`: rated segments with labels and annotations,
        and the ids of skipped ones; `waiting`: the ids of those still on the page."""
        return self.record.answers(queue, self.desk.pending_in)

    def withdraw(self, queue: str) -> int:
        self.files.drop_waiting(self.record.queue_dir(queue))
        return self.desk.withdraw(queue)

    def ping(self) -> bool:
        return True


def get_desk(where: str | Path, host: str, port: int) -> Any:
    """The cluster's rating desk: the running one, or a new one serving on host:port
    with its answers kept at `where`, a local folder or a storage URI (what is
    there already is loaded). RenderingUnavailable (one line) where no OpenGL
    backend renders on this node."""
    from rbrl_ray.human.gl_backend import choose_backend

    backend = choose_backend()  # here, so a trial fails with the reason, not a page of 500s
    actor = (
        ray.remote(DeskService)
        .options(
            name=DESK_NAME,
            namespace=DESK_NAMESPACE,
            get_if_exists=True,
            num_cpus=0,  # it waits for a person; rendering is short and rare
            lifetime="detached",  # outlives the trial that started it; others queue into it
            max_restarts=-1,  # started again (same root: every answer kept) if it dies
            max_task_retries=-1,  # a trial's call in flight then is answered by the new one
            # on the node of the trial that starts it (it renders there), bound to it:
            # Ray's soft affinity let a desk with a runtime env land on a head that only
            # schedules. Not in that trial's placement group: Ray kills an actor with its
            # group, and this one outlives the trial. When the node is gone the desk
            # cannot start again there; the trial that finds it so starts a new one on its
            # own node (online.HumanRater), which takes over the desk's folder.
            scheduling_strategy=NodeAffinitySchedulingStrategy(
                ray.get_runtime_context().get_node_id(), soft=False
            ),
            # its own worker process, with the backend set before dm_control's import
            runtime_env={"env_vars": {"MUJOCO_GL": backend}},
        )
        .remote(str(where), host, port)
    )
    ray.get(actor.ping.remote())
    return actor


def stop_desk() -> None:
    """End the cluster's rating desk, if one runs (its answers stay on disk)."""
    try:
        ray.kill(ray.get_actor(DESK_NAME, namespace=DESK_NAMESPACE), no_restart=True)
    except ValueError:
        pass  # none runs
