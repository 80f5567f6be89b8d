"""Rate segments on a web page: an annotation session without RL running.

    python -m rbrl_ray.rate --segments scripted --env cartpole-balance --classes 3
    python -m rbrl_ray.rate --segments results/.../ratings --classes 3 --out my_ratings \
        --annotators ada,bob --overlap 0.2
    python -m rbrl_ray.rate --status my_ratings
    python -m rbrl_ray.rate --export my_ratings ratings.parquet   (or .csv)
    python -m rbrl_ray.rate --import ratings.parquet --out copy_of_my_ratings
    python -m rbrl_ray.rate --revoke bob --out my_ratings

Serves the rating page for a pool of segments. Each annotator gets a link with
their own token (kept in OUT/annotators.json and OUT/links.txt, mode 600); every
answer is written to OUT/labels.jsonl, and each finished segment's one label to
the rated store in OUT, before the page hears back. With --overlap F, a share F of
the segments waits for ratings from --overlap-count annotators (for agreement); its
label is the lower median of theirs. Segments already finished in OUT are not
asked again, so a session can stop and go on later. SOURCE is "scripted" (a fresh
pool cut from reward_bench's scripted behaviours), a trial checkpoint (a pool cut
from rollouts of its policy), or a rated store / a trial's ratings folder whose
segments carry physics states. The page binds 127.0.0.1; another address needs
--expose. --status shows each annotator's progress, skips, response times and
agreement (Krippendorff's alpha). Fit and score the reward models on the result
with `python -m rbrl_ray.reward_bench --ratings OUT`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path

from rbrl_ray.cli import (
    CLASSES_HELP,
    OneLineParser,
    UsageError,
    class_count,
    int_in_range,
)
from rbrl_ray.envs import TASK_NAMES, get_task
from rbrl_ray.feedback.segments import Segments
from rbrl_ray.human.annotators import DEFAULT_ANNOTATOR, MIN_TOKEN, Roster, check_name
from rbrl_ray.human.labels import Overlap
from rbrl_ray.validation import is_loopback

PROG = "rbrl_ray.rate"
LINKS_FILE = "links.txt"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--segments", help="scripted, a checkpoint, a rated store or ratings folder")
    p.add_argument("--classes", type=class_count, help=CLASSES_HELP)
    p.add_argument("--env", help=f"one of: {', '.join(TASK_NAMES)} (else from the segments)")
    p.add_argument("--count", type=int_in_range("count", 1, 100_000), default=40)
    p.add_argument("--seed", type=int_in_range("seed", 0), default=0)
    p.add_argument("--out", type=Path, help="rated store to write (default human_ratings/ENV_cN)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int_in_range("port", 0, 65535), default=8765)
    p.add_argument("--expose", action="store_true", help="allow a non-loopback --host")
    p.add_argument("--annotators", help="comma-separated names, each with its own link "
                   "(default: the store's annotators, or one named 'annotator')")  # fmt: skip
    p.add_argument("--token", help="the token of a single new annotator (default: random)")
    p.add_argument("--overlap", type=share, default=0.0,
                   help="share of segments rated by several annotators, 0..1")  # fmt: skip
    p.add_argument("--overlap-count", type=int_in_range("overlap-count", 2, 10), default=2,
                   help="annotators per overlapping segment")  # fmt: skip
    what = p.add_mutually_exclusive_group()
    what.add_argument("--status", type=Path, metavar="STORE", help="show a store's annotators")
    what.add_argument("--export", nargs=2, type=Path, metavar=("STORE", "FILE"),
                      help="write a store as one table: FILE .parquet (whole) or .csv")  # fmt: skip
    what.add_argument("--import", dest="import_", type=Path, metavar="FILE",
                      help="make the store --out from an exported .parquet table")  # fmt: skip
    what.add_argument("--revoke", metavar="NAME", help="revoke an annotator's token in --out")
    p.add_argument("--svg", type=Path, help="with --status: also save the view as an SVG image")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.status is not None or args.export or args.import_ or args.revoke:
        return organise(args)
    if args.segments is None and args.annotators and args.out is not None:
        return add_annotators(args.out, parse_names(args.annotators), args.token)
    if args.segments is None or args.classes is None:
        raise UsageError("serving a page needs --segments and --classes")
    names = parse_names(args.annotators)
    if args.token is not None and names is not None and len(names) != 1:
        raise UsageError("--token is one annotator's: give exactly one name in --annotators")
    if not is_loopback(args.host) and not args.expose:
        raise UsageError(f"--host {args.host} is reachable from other machines: add --expose")
    if args.token is not None and len(args.token) < MIN_TOKEN:
        raise UsageError(f"--token must be at least {MIN_TOKEN} characters")
    if args.env is not None:
        get_task(args.env)

    from rbrl_ray.human.gl_backend import enable_rendering

    enable_rendering()  # before dm_control's import; no backend: one line, exit 2
    from rbrl_ray.envs import task_of_observations
    from rbrl_ray.human.sources import load_segments

    segments = load_segments(args.segments, args.env, args.count, args.seed)
    env = args.env or task_of_observations(segments.obs.shape[-1])
    out = args.out or Path("human_ratings") / f"{env}_c{args.classes}"
    overlap = Overlap(fraction=args.overlap, count=args.overlap_count)
    from rbrl_ray.human.offline import check_session

    check_session(out, env, args.classes)  # a store of another task: refused, untouched
    roster = enrol(out, names, args.token)
    serve_session(segments, env, args.classes, out, args.host, args.port, roster, overlap)
    return 0


def share(text: str) -> float:
    """argparse type of --overlap: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"overlap must be a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"overlap must be 0..1, got {text}")
    return value


def parse_names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [check_name(n.strip()) for n in text.split(",") if n.strip()]
    if not names or len(set(names)) != len(names):
        raise UsageError(f"--annotators {text!r}: give distinct names, comma-separated")
    return names


def enrol(out: Path, names: list[str] | None, token: str | None) -> Roster:
    """The store's roster with every annotator of `names` in it (new ones get a token);
    with no names, the store's own annotators, or one named DEFAULT_ANNOTATOR."""
    roster = Roster(out)
    if names is None:
        names = roster.active() or [DEFAULT_ANNOTATOR]
    if token is not None and len(names) != 1:
        raise UsageError(f"--token is one annotator's; {out} has {len(names)}: name one")
    for name in names:
        roster.add(name, token)
    return roster


def serve_session(
    segments: Segments,
    env: str,
    classes: int,
    out: Path,
    host: str,
    port: int,
    roster: Roster,
    overlap: Overlap,
) -> None:
    """Serve the page until every segment is answered, Ctrl-C or SIGTERM (`out`'s
    session record already checked: `check_session`)."""
    from rbrl_ray.human.app import Videos, make_app
    from rbrl_ray.human.offline import offline_desk
    from rbrl_ray.human.server import ThreadedServer

    desk, store = offline_desk(out, env, classes, segments, roster, overlap)
    waiting = desk.progress()["pending"]
    if waiting == 0:
        print(f"every one of the {len(segments)} segments already has a rating in {out}")
        return
    # every video of the pool, rendered in the background (a progress bar) while rating
    app = make_app(desk, Videos(out / "videos"), roster, render_ahead=waiting, progress=True)
    server = ThreadedServer(app, host, port).start()
    print(f"{waiting} of {len(segments)} segments of {env} wait for a rating ({out})")
    links = write_links(out, server.url, roster)
    for name, link in links.items():
        print(f"rate them at {link}   ({name})", flush=True)
    print(f"links: {out / LINKS_FILE}; progress and agreement: python -m rbrl_ray.rate "
          f"--status {out}; Ctrl-C ends the session", flush=True)  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if desk.progress()["pending"] == 0:
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
    print(f"{desk.rated_this_session} ratings this session; {len(store)} rated segments in {out}")


def write_links(out: Path, url: str, roster: Roster) -> dict[str, str]:
    """Each active annotator's link, also written to OUT/links.txt (mode 600)."""
    everyone = roster.annotators()
    links = {name: f"{url}/?token={everyone[name].token}" for name in roster.active()}
    partial = out / f".{LINKS_FILE}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"{name}\t{link}\n" for name, link in links.items())
    os.replace(partial, out / LINKS_FILE)
    return links


def add_annotators(out: Path, names: list[str], token: str | None) -> int:
    """Enrol `names` in the store or rating desk `out` (a page serving it takes them at
    once) and print each one's link where the page's address is known."""
    if token is not None and len(names) != 1:
        raise UsageError("--token is one annotator's: give exactly one name in --annotators")
    roster = enrol(out, names, token)
    page = out / "page.json"
    url = json.loads(page.read_text())["url"] if page.exists() else None
    for name in names:
        held = roster.annotators()[name].token
        where = f"{url}/?token={held}" if url else f"token {held} (append /?token=... to the URL)"
        print(f"{name}: {where}")
    print(f"tokens are in {roster.path} (mode 600)")
    return 0


def organise(args: argparse.Namespace) -> int:
    """--status, --export, --import, --revoke: the organiser's side, no page served."""
    from rich.console import Console

    from rbrl_ray.human import table
    from rbrl_ray.human.status import show_status

    if args.status is not None:
        console = Console(record=args.svg is not None, width=max(110, Console().width))
        show_status(args.status, console)
        if args.svg is not None:
            console.save_svg(str(args.svg), title=f"rbrl_ray.rate --status {args.status}")
    elif args.export:
        store, path = args.export
        rows = table.export_store(store, path)
        print(f"{rows} answers of {store} -> {path}")
    elif args.import_ is not None:
        if args.out is None:
            raise UsageError("--import needs --out, the store to make")
        rows = table.import_store(args.import_, args.out)
        print(f"{rows} answers of {args.import_} -> {args.out}")
    else:
        if args.out is None:
            raise UsageError("--revoke needs --out, the store whose annotator it is")
        Roster(args.out).revoke(args.revoke)
        print(f"{args.revoke}'s token no longer works on {args.out} (a page serving it too)")
    return 0


if __name__ == "__main__":
    from rbrl_ray.cli import run_main

    run_main(main, PROG)
