"""Every start of a campaign trial, logged in its folder in storage as it happens.

Within one driver process result.json shows a restart where the new attempt reported
(its rows begin again at `iterations_since_restore` 1), but an attempt that died before
its first result (its actor lost while it set up) leaves no row, no row says when an
attempt began, and a trial a *new* driver restarts from scratch loses the earlier
attempt's rows altogether (Tune rewrites the file from its per-driver staging folder;
docs/rllib-2.60-pitfalls.md). So the campaign's Tune callback appends one line per
start here, in the trial's folder in storage (a file Tune's sync never writes), with the
iteration it goes on from and the time, and the trial's record lists them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

STARTS_FILE = "campaign_starts.jsonl"


def log_start(trial_dir: Path, from_iteration: int | None) -> None:
    """Note that Tune started the trial, going on from `from_iteration` (0: from scratch;
    None: from a checkpoint of unknown iteration)."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    line = {
        "from_iteration": from_iteration,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = trial_dir / STARTS_FILE
    cut = path.exists() and not path.read_bytes().endswith(b"\n")  # a kill mid-write
    with open(path, "a") as out:
        out.write(("\n" if cut else "") + json.dumps(line) + "\n")


def logged_starts(trial_dir: Path) -> list[int | None] | None:
    """The iteration each start went on from, in order; None where no start was logged
    (a trial from before the log, or one not run by a campaign). A line cut short by a
    kill of the campaign mid-write is skipped (the start it notes ended with that kill)."""
    path = trial_dir / STARTS_FILE
    if not path.exists():
        return None
    starts = []
    for text in path.read_text().splitlines():
        try:
            went_on_from = json.loads(text)["from_iteration"]
            starts.append(None if went_on_from is None else int(went_on_from))
        except (ValueError, KeyError, TypeError):
            continue
    return starts
