"""The organiser's view of a rated store: who rated what, who is waiting, and how far
the annotators agree (`python -m rbrl_ray.rate --status STORE`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rbrl_ray.feedback.rater import RaterConfig, SyntheticRater
from rbrl_ray.feedback.segments import segment_ids
from rbrl_ray.feedback.store import RatedStore
from rbrl_ray.human.agreement import (
    AnnotatorFigures,
    against_reference,
    alpha,
    annotator_figures,
    matrix_of,
    ratings_by_segment,
)
from rbrl_ray.human.annotators import Roster
from rbrl_ray.human.labels import Answer, Overlap, answers_of
from rbrl_ray.human.offline import POOL_FILE, SESSION_FILE, read_session


@dataclass(frozen=True)
class StoreStatus:
    folder: Path
    env: str
    classes: int
    rating_range: tuple[float, float]
    rated_segments: int  # segments with their one label in the store
    pool: int | None  # segments in the last session's pool
    overlapping: int  # segments rated by two or more annotators
    alpha_all: float
    alpha_consensus_vs_synthetic: float
    annotators: list[AnnotatorFigures]


def synthetic_classes(folder: Path, classes: int, rating_range: tuple[float, float]) -> dict:
    """segment id -> the class a noise-free synthetic rater gives it (its true return
    is in the store), for every rated segment."""
    loaded = RatedStore(folder).load()
    if loaded is None:
        return {}
    segments = loaded[0]
    rater = SyntheticRater(RaterConfig(n_classes=classes, low=rating_range[0],
                                       high=rating_range[1]))  # fmt: skip
    exact = rater.exact_classes(segments.true_rewards.sum(axis=1))
    return dict(zip(segment_ids(segments), exact.tolist(), strict=True))


def waiting_for(folder: Path, answers: list[Answer], name: str, finished: set[str], active: int):
    """Segments of the last session's pool still waiting for `name` (None: no pool)."""
    path = folder / POOL_FILE
    if not path.exists():
        return None
    pool = json.loads(path.read_text())
    overlap = Overlap(**pool["overlap"])
    answered: dict[str, set[str]] = {}
    for a in answers:
        answered.setdefault(a.segment_id, set()).add(a.annotator)
    return sum(
        1
        for sid in pool["segment_ids"]
        if sid not in finished
        and name not in answered.get(sid, set())
        and len(answered.get(sid, ())) < overlap.wanted(sid, active)
    )


def stores_in(folder: Path) -> list[tuple[Path, Path]]:
    """(store, folder of its annotators.json): a rated store made by `rate`, or each
    trial's queue of a rating desk (`rating_desk/queues/<trial>`, annotators in
    `rating_desk/`). ConfigError (one line) for a folder that is neither."""
    folder = Path(folder)
    if (folder / SESSION_FILE).exists() or not (folder / "queues").is_dir():
        read_session(folder)  # one line if it is no store
        return [(folder, folder)]
    return [
        (q, folder) for q in sorted((folder / "queues").iterdir()) if (q / SESSION_FILE).exists()
    ]


def status_of(folder: Path, roster_folder: Path | None = None) -> StoreStatus:
    session = read_session(folder)
    env, classes = session["env"], int(session["classes"])
    low, high = session["rating_range"]
    answers = answers_of(folder)
    roster = Roster(roster_folder or folder).annotators()
    names = list(roster) + sorted({a.annotator for a in answers} - set(roster))
    synthetic = synthetic_classes(folder, classes, (low, high))
    finished = set(synthetic)
    by_segment = ratings_by_segment(answers)
    active = sum(not a.revoked for a in roster.values())
    pool_path = folder / POOL_FILE
    figures = [
        annotator_figures(
            answers, name, name in roster and not roster[name].revoked, classes, synthetic,
            waiting_for(folder, answers, name, finished, active),
        )
        for name in names
    ]  # fmt: skip
    return StoreStatus(
        folder=folder,
        env=env,
        classes=classes,
        rating_range=(low, high),
        rated_segments=len(finished),
        pool=len(json.loads(pool_path.read_text())["segment_ids"]) if pool_path.exists() else None,
        overlapping=sum(len(given) >= 2 for given in by_segment.values()),
        alpha_all=alpha(matrix_of(by_segment, names), classes),
        alpha_consensus_vs_synthetic=against_reference(by_segment, None, synthetic, classes),
        annotators=figures,
    )


def _num(value: float, digits: int = 2) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def show_status(folder: Path, console: Console | None = None) -> list[StoreStatus]:
    """Print the status of the store in `folder` (or of each trial's queue of a rating
    desk) as tables; returns the figures."""
    console = console or Console()
    return [show_store(store, roster, console) for store, roster in stores_in(folder)]


def show_store(folder: Path, roster_folder: Path, console: Console) -> StoreStatus:
    status = status_of(folder, roster_folder)
    pool = f" of a pool of {status.pool}" if status.pool is not None else ""
    console.print(
        f"[bold]{status.folder}[/]: {status.env}, {status.classes} classes; "
        f"{status.rated_segments} segments rated{pool}; {status.overlapping} rated by two "
        f"or more annotators"
    )
    table = Table(title="annotators", title_justify="left")
    for column in ("annotator", "token", "rated", "skipped", "skip rate", "median s",
                   "waiting", "α vs others", "α vs synthetic"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("annotator", "token") else "right")
    for a in status.annotators:
        table.add_row(
            a.name, "active" if a.active else "revoked", str(a.rated), str(a.skipped),
            _num(a.skip_rate), _num(a.median_response_s, 1),
            "–" if a.waiting is None else str(a.waiting),
            _num(a.alpha_vs_others), _num(a.alpha_vs_synthetic),
        )  # fmt: skip
    console.print(table)
    low, high = status.rating_range
    console.print(
        f"Krippendorff's α (ordinal), every annotator over the {status.overlapping} shared "
        f"segments: {_num(status.alpha_all)}; the store's labels against a noise-free "
        f"synthetic rater (range [{low:g}, {high:g}]): {_num(status.alpha_consensus_vs_synthetic)}"
    )
    console.print("α: 1 = full agreement, 0 = chance, – = no segment to compare on", style="dim")
    return status
