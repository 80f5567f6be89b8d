"""Rate segments on a web page: an annotation session without RL running.

    python -m rbrl_ray.rate --segments scripted --env cartpole-balance --classes 3
    python -m rbrl_ray.rate --segments results/.../ratings --classes 3 --out my_ratings

Serves the rating page for a pool of segments and writes every rating, with the
annotator, time and response time, to a rated store in --out (one file per
rating, written before the page hears back). Segments already rated in --out are
not asked again, so a session can stop and go on later. SOURCE is "scripted" (a
fresh pool cut from reward_bench's scripted behaviours), a trial checkpoint (a
pool cut from rollouts of its policy), or a rated store / a trial's ratings folder
whose segments carry physics states. The page binds
127.0.0.1; another address needs --expose. Fit and score the reward models on
the result with `python -m rbrl_ray.reward_bench --ratings OUT`.
"""

from __future__ import annotations

import secrets
import signal
import threading
from pathlib import Path

from rbrl_ray.cli import CLASSES_HELP, OneLineParser, UsageError, class_count, int_in_range
from rbrl_ray.envs import TASK_NAMES, get_task
from rbrl_ray.feedback.segments import Segments
from rbrl_ray.validation import is_loopback

PROG = "rbrl_ray.rate"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--segments", required=True, help="scripted, a checkpoint, a rated store or ratings folder"
    )
    p.add_argument("--classes", type=class_count, required=True, help=CLASSES_HELP)
    p.add_argument("--env", help=f"one of: {', '.join(TASK_NAMES)} (else from the segments)")
    p.add_argument("--count", type=int_in_range("count", 1, 100_000), default=40)
    p.add_argument("--seed", type=int_in_range("seed", 0), default=0)
    p.add_argument("--out", type=Path, help="rated store to write (default human_ratings/ENV_cN)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int_in_range("port", 0, 65535), default=8765)
    p.add_argument("--expose", action="store_true", help="allow a non-loopback --host")
    p.add_argument("--token", help="the session token (default: a random one, printed)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not is_loopback(args.host) and not args.expose:
        raise UsageError(f"--host {args.host} is reachable from other machines: add --expose")
    if args.token is not None and len(args.token) < 16:
        raise UsageError("--token must be at least 16 characters")
    if args.env is not None:
        get_task(args.env)

    from rbrl_ray.human.gl_backend import enable_rendering

    enable_rendering()  # before dm_control's import; no backend: one line, exit 2
    from rbrl_ray.human.render import task_of_observations
    from rbrl_ray.human.sources import load_segments

    segments = load_segments(args.segments, args.env, args.count, args.seed)
    env = args.env or task_of_observations(segments.obs.shape[-1])
    out = args.out or Path("human_ratings") / f"{env}_c{args.classes}"
    serve_session(segments, env, args.classes, out, args.host, args.port, args.token)
    return 0


def serve_session(
    segments: Segments,
    env: str,
    classes: int,
    out: Path,
    host: str,
    port: int,
    token: str | None,
) -> None:
    """Serve the page until every segment is answered, Ctrl-C or SIGTERM."""
    from rbrl_ray.human.app import Videos, make_app
    from rbrl_ray.human.offline import check_session, offline_desk
    from rbrl_ray.human.server import ThreadedServer

    check_session(out, env, classes)
    desk, store = offline_desk(out, env, classes, segments)
    waiting = desk.progress()["pending"]
    if waiting == 0:
        print(f"every one of the {len(segments)} segments already has a rating in {out}")
        return
    token = token or secrets.token_urlsafe(16)
    # every video of the pool, rendered in the background (a progress bar) while rating
    app = make_app(desk, Videos(out / "videos"), token, render_ahead=waiting, progress=True)
    server = ThreadedServer(app, host, port).start()
    print(f"{waiting} of {len(segments)} segments of {env} wait for a rating ({out})")
    print(f"rate them at {server.url}/?token={token}   (Ctrl-C ends the session)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if desk.next() is None:
                print("every segment is rated or skipped", flush=True)
                break
    except KeyboardInterrupt:
        pass
    finally:
        # Before the server: requests waiting for a queued render get their 503 now,
        # rather than the server's shutdown waiting for every render (10 s or more
        # each under load with software rendering).
        app.state.prerenderer.stop()
        server.stop()
    print(f"{desk.rated_this_session} ratings this session; {len(store)} in {out}")


if __name__ == "__main__":
    from rbrl_ray.cli import run_main

    run_main(main, PROG)
