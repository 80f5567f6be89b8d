"""A rated store as one tidy table, to analyse elsewhere or share as a dataset.

One row per answer an annotator gave (a rating or a skip), in the order given:

    segment_id, env, classes, annotator, answer (rating | skip | stored), rating,
    response_s, answered_at, queue, label (the segment's one label in the store),
    query (the trial's query that asked for it; -1 unknown), file, row (where the
    label sits in the store)

A stored label without an answer (a synthetic rater's, or a store from before
label logs) is one row of kind "stored". Parquet also carries each segment's
observations, actions, true rewards and physics states (flattened; shapes and
dtypes in the file's metadata), the store's own annotations of each label, and
the session record, so `import_store` rebuilds the store exactly: the same files,
arrays, labels, annotations and label log. CSV carries the tidy columns only.
Tokens never leave the store: an imported store has no annotators.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.feedback.store import ANNOTATION_FIELDS, RatedStore
from rbrl_ray.human.labels import LABELS_FILE, Answer, LabelLog, answers_of
from rbrl_ray.human.offline import SESSION_FILE, read_session
from rbrl_ray.jsonio import write_json
from rbrl_ray.validation import ConfigError

ARRAYS = ("obs", "act", "true_rewards", "states")
META_KEY = b"rbrl_ray"


def _stored_labels(folder: Path) -> pd.DataFrame:
    """One row per label in the store: where it sits, its segment and annotations."""
    rows = []
    for f, file in enumerate(RatedStore(folder).files()):
        ids = segment_ids(file.segments)
        for r, segment_id in enumerate(ids):
            row: dict[str, Any] = {"segment_id": segment_id, "file": f, "row": r,
                                   "label": int(file.labels[r]), "query": int(file.queries[r]),
                                   "restored": file.restored}  # fmt: skip
            for name in ANNOTATION_FIELDS:
                if name in file.annotations:
                    row[f"label_{name}"] = file.annotations[name][r].item()
            for name in ARRAYS:
                values = getattr(file.segments, name)
                row[name] = None if values is None else values[r]
            rows.append(row)
    return pd.DataFrame(rows)


def _answer_rows(answers: list[Answer]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "segment_id": a.segment_id,
                "annotator": a.annotator,
                "answer": "skip" if a.rating is None else "rating",
                "rating": a.rating,
                "response_s": a.response_s,
                "answered_at": a.answered_at,
                "queue": a.queue,
            }
            for a in answers
        ],
        columns=[
            "segment_id",
            "annotator",
            "answer",
            "rating",
            "response_s",
            "answered_at",
            "queue",
        ],  # fmt: skip
    )


def tidy_table(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table of the store in `folder`, and what Parquet keeps beside it."""
    folder = Path(folder)
    session = read_session(folder)
    logged = (folder / LABELS_FILE).exists()
    answers = _answer_rows(answers_of(folder))
    stored = _stored_labels(folder)
    if stored.empty:
        stored = pd.DataFrame(columns=["segment_id", "file", "row", "label", "query", "restored"])
    table = answers.merge(stored, on="segment_id", how="left")
    unanswered = stored[~stored["segment_id"].isin(answers["segment_id"])]
    if len(unanswered):
        table = pd.concat([table, unanswered.assign(answer="stored")], ignore_index=True)
    table.insert(1, "env", session["env"])
    table.insert(2, "classes", int(session["classes"]))
    for name in ("rating", "label", "query", "file", "row"):
        table[name] = table[name].astype("Int64")
    meta = {"session": session, "label_log": logged}
    for name in ARRAYS:
        present = [v for v in stored.get(name, []) if v is not None]
        if present:
            meta[name] = {"shape": list(present[0].shape), "dtype": str(present[0].dtype)}
    return table, meta


def export_store(folder: Path, path: Path) -> int:
    """Write the store in `folder` to `path` (.parquet: whole; .csv: tidy columns only);
    returns the number of rows."""
    path = Path(path)
    if path.suffix not in (".parquet", ".csv"):
        raise ConfigError(f"{path}: export to a .parquet or a .csv file")
    table, meta = tidy_table(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        table.drop(columns=[c for c in table if c in ARRAYS or c.startswith("label_")]
                   + ["restored"]).to_csv(path, index=False)  # fmt: skip
        return len(table)
    for name in ARRAYS:
        if name in table:
            table[name] = [None if v is None or v is np.nan else np.ravel(v) for v in table[name]]
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                           META_KEY: json.dumps(meta).encode()})  # fmt: skip
    pq.write_table(arrow, path)
    return len(table)


def import_store(path: Path, folder: Path) -> int:
    """Make the store `folder` from an exported Parquet table; returns its row count."""
    path, folder = Path(path), Path(folder)
    if path.suffix != ".parquet":
        raise ConfigError(f"{path}: only a .parquet export carries the segments; import that")
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} is not empty: import into a new folder")
    arrow = pq.read_table(path)
    raw_meta = (arrow.schema.metadata or {}).get(META_KEY)
    if raw_meta is None:
        raise ConfigError(f"{path}: not a table written by rbrl_ray.rate --export")
    meta = json.loads(raw_meta)
    table = arrow.to_pandas()
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / SESSION_FILE, meta["session"])
    _write_store(table, meta, folder)
    if meta["label_log"]:
        log = LabelLog(folder)
        log.path.touch()
        for row in table[table["answer"] != "stored"].itertuples():
            rating = None if pd.isna(row.rating) else int(row.rating)
            log.append(Answer(row.segment_id, row.annotator, rating, float(row.response_s),
                              float(row.answered_at), row.queue))  # fmt: skip
    return len(table)


def _write_store(table: pd.DataFrame, meta: dict[str, Any], folder: Path) -> None:
    stored = table.dropna(subset=["file"]).drop_duplicates("segment_id")
    store = RatedStore(folder)
    for _, part in stored.sort_values(["file", "row"]).groupby("file", sort=True):

        def arrays(name: str, part: pd.DataFrame = part) -> np.ndarray | None:
            if name not in meta:
                return None
            shape, dtype = meta[name]["shape"], np.dtype(meta[name]["dtype"])
            return np.stack([np.asarray(v, dtype).reshape(shape) for v in part[name]])

        segments = Segments(arrays("obs"), arrays("act"), arrays("true_rewards"),
                            arrays("states"))  # fmt: skip
        notes = {
            name: np.asarray(part[f"label_{name}"].tolist())
            for name in ANNOTATION_FIELDS
            if f"label_{name}" in part and part[f"label_{name}"].notna().all()
        }
        store.append(
            segments,
            part["label"].astype(np.int64).to_numpy(),
            notes or None,
            queries=part["query"].astype(np.int64).to_numpy(),
            restored=bool(part["restored"].iloc[0]),
        )
