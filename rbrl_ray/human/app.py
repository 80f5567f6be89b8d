"""The rating page: a small FastAPI app over one RatingDesk.

    GET  /                       the page (an annotator's token comes in its URL: /?token=...)
    GET  /api/progress           the annotator's rated and skipped counts, and what waits
    GET  /api/next               the next segment waiting for this annotator: id, video
                                 URL, task, instructions and its n-class scale
    GET  /videos/{id}.webm       a segment's video, by id only (rendered on first use)
    POST /api/ratings            {"segment_id", "rating", "response_s"}
    POST /api/skips              {"segment_id"}

Every /api request carries an annotator's token in the X-Rating-Token header (403
without an active one, `annotators.Roster`); the answer is that annotator's. Bad
input is a 4xx with a message and changes nothing: 404 unknown segment, 409
already rated, 413 body over MAX_BODY bytes, 422 malformed body or a rating outside
0..n-1. A background thread renders the segments waiting, in order, so the next
video is usually ready before it is asked for.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from tqdm import tqdm

from rbrl_ray.human.annotators import Roster
from rbrl_ray.human.desk import DeskError, RatingDesk
from rbrl_ray.human.instructions import INSTRUCTIONS, scale_labels
from rbrl_ray.human.videos import SEGMENT_ID, VideoCache, VideoCacheClosed

MAX_BODY = 4096  # bytes; a rating is well under 200
TOKEN_HEADER = "X-Rating-Token"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segment_id: str = Field(pattern=SEGMENT_ID.pattern)


class RatingBody(_Body):
    rating: StrictInt
    response_s: float = Field(ge=0, le=86_400)


class SkipBody(_Body):
    pass


class Videos:
    """One VideoCache per task under `root`, made when first needed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._caches: dict[str, VideoCache] = {}
        self._lock = threading.Lock()
        self._closed = False

    def of(self, env: str) -> VideoCache:
        with self._lock:
            if self._closed:
                raise VideoCacheClosed(f"no videos of {env}: the page is shutting down")
            if env not in self._caches:
                self._caches[env] = VideoCache(self.root / env, env)
            return self._caches[env]

    def cached(self, segment_id: str) -> Path | None:
        """The video of `segment_id` if any task's cache has it."""
        for path in self.root.glob(f"*/{segment_id}.webm"):
            return path
        return None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for cache in self._caches.values():
                cache.close()


def make_app(
    desk: RatingDesk, videos: Videos, roster: Roster, render_ahead: int = 5, progress: bool = False
) -> FastAPI:
    """The page over `desk` for the annotators of `roster`; `render_ahead` waiting
    segments are rendered before they are asked for (with a progress bar in the
    terminal if `progress`)."""
    app = FastAPI(title="rbrl_ray rating page", docs_url=None, redoc_url=None)
    page = resources.files("rbrl_ray.human").joinpath("page.html").read_text()

    @app.middleware("http")
    async def guard_changes(request: Request, call_next: Any) -> Any:
        """Before an API request's body is read: whose token it carries, then its size."""
        if request.url.path.startswith("/api/"):
            request.state.annotator = roster.who(request.headers.get(TOKEN_HEADER))
            if request.state.annotator is None:
                return JSONResponse(
                    {"detail": f"missing, wrong or revoked {TOKEN_HEADER} header"},
                    status_code=403,
                )
        if request.method not in ("GET", "HEAD"):
            declared = request.headers.get("content-length")
            if declared is None or not declared.isdigit():
                return JSONResponse({"detail": "a body needs a Content-Length"}, status_code=411)
            if int(declared) > MAX_BODY:
                return JSONResponse(
                    {"detail": f"body of {declared} bytes; at most {MAX_BODY}"}, status_code=413
                )
        return await call_next(request)

    @app.exception_handler(DeskError)
    async def desk_error(request: Request, err: DeskError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=err.status)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/api/progress")
    def progress(request: Request) -> dict[str, int]:
        return desk.progress(request.state.annotator)

    @app.get("/api/next")
    def next_segment(request: Request) -> dict[str, Any]:
        annotator = request.state.annotator
        waiting = desk.next(annotator)
        if waiting is None:
            return {"segment_id": None, "annotator": annotator,
                    "progress": desk.progress(annotator)}  # fmt: skip
        return {
            "annotator": annotator,
            "segment_id": waiting.segment_id,
            "video": f"/videos/{waiting.segment_id}.webm",
            "env": waiting.env,
            "classes": waiting.classes,
            "instructions": INSTRUCTIONS[waiting.env],
            "labels": scale_labels(waiting.classes),
            "progress": desk.progress(annotator),
        }

    @app.get("/videos/{segment_id}.webm")
    def video(segment_id: str) -> FileResponse:
        if not SEGMENT_ID.match(segment_id):
            raise HTTPException(404, "not a segment id")
        path = videos.cached(segment_id)
        if path is None:
            try:
                env, states = desk.env_of(segment_id), desk.states_of(segment_id)
            except DeskError as err:
                raise HTTPException(404, str(err)) from None
            try:
                path = videos.of(env).get(segment_id, states)
            except VideoCacheClosed as err:
                raise HTTPException(503, str(err)) from None
        return FileResponse(path, media_type="video/webm")

    @app.post("/api/ratings")
    def rate(body: RatingBody, request: Request) -> dict[str, Any]:
        annotator = request.state.annotator
        desk.rate(body.segment_id, body.rating, annotator, body.response_s)
        return {"ok": True, "progress": desk.progress(annotator)}

    @app.post("/api/skips")
    def skip(body: SkipBody, request: Request) -> dict[str, Any]:
        desk.skip(body.segment_id, request.state.annotator)
        return {"ok": True, "progress": desk.progress(request.state.annotator)}

    app.state.prerenderer = Prerenderer(desk, videos, render_ahead, progress)
    app.router.on_startup.append(app.state.prerenderer.start)
    app.router.on_shutdown.append(app.state.prerenderer.stop)
    return app


class Prerenderer:
    """Renders the waiting segments' videos ahead of the page, oldest first."""

    def __init__(
        self, desk: RatingDesk, videos: Videos, ahead: int = 5, progress: bool = False
    ) -> None:
        self.desk, self.videos, self.ahead = desk, videos, ahead
        self.progress = progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prerender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop rendering ahead and close the videos (idempotent: also the app's
        shutdown hook)."""
        self._stop.set()
        self.videos.close()  # skips the queued renders, lets the one in progress finish
        self._thread.join(timeout=30)

    def _run(self) -> None:
        bar = None
        while not self._stop.is_set():
            todo = [i for i in self.desk.waiting(self.ahead) if self.videos.cached(i) is None]
            if todo and self.progress and bar is None:
                bar = tqdm(total=len(todo), desc="rendering videos", unit="segment")
            for segment_id in todo:
                if self._stop.is_set():
                    break
                try:
                    env, states = self.desk.env_of(segment_id), self.desk.states_of(segment_id)
                except DeskError:
                    continue  # rated or skipped meanwhile
                try:
                    self.videos.of(env).get(segment_id, states)
                except VideoCacheClosed:
                    break  # stopping
                if bar is not None:
                    bar.update(1)
            if bar is not None and not todo:
                bar.close()
                bar = None
            self._stop.wait(0.2 if todo else 1.0)
