"""Who may rate: one named, revocable token per annotator, kept in the store's folder.

`annotators.json` (mode 600: a token lets whoever reads it rate) maps each name to
its token and whether it was revoked. Every rating is attributed to the annotator
whose token came with it, never to a name typed on the page. A page that is
serving re-reads the file when it changes, so an annotator added or revoked by
`python -m rbrl_ray.rate --annotators/--revoke` takes effect without a restart.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rbrl_ray.validation import ConfigError

ROSTER_FILE = "annotators.json"
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_TOKEN = 16
DEFAULT_ANNOTATOR = "annotator"  # the one annotator of a session that names none


@dataclass(frozen=True)
class Annotator:
    name: str
    token: str
    added_at: float
    revoked: bool = False


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ConfigError(f"annotator name {name!r}: letters, digits and _.- only, 1-64 of them")
    return name


class Roster:
    """The annotators of one store (or one rating desk), on disk in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / ROSTER_FILE
        self._lock = threading.Lock()
        self._seen: tuple[float, int] | None = None  # (mtime, size) of the file last read
        self._annotators: dict[str, Annotator] = {}

    # -- reading ------------------------------------------------------------------
    def annotators(self) -> dict[str, Annotator]:
        """Every annotator ever added (revoked ones too), re-read if the file changed."""
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self._seen, self._annotators = None, {}
                return {}
            if self._seen != (stat.st_mtime, stat.st_size):
                self._annotators = self._read()
                self._seen = (stat.st_mtime, stat.st_size)
            return dict(self._annotators)

    def _read(self) -> dict[str, Annotator]:
        try:
            raw = json.loads(self.path.read_text())
            return {name: Annotator(**entry) for name, entry in raw.items()}
        except (json.JSONDecodeError, TypeError) as err:
            raise ConfigError(f"{self.path}: not an annotator roster ({err}); fix it") from None

    def active(self) -> list[str]:
        return [a.name for a in self.annotators().values() if not a.revoked]

    def who(self, token: str | None) -> str | None:
        """The active annotator holding `token`, or None (compared in constant time)."""
        if not token:
            return None
        found = None
        for annotator in self.annotators().values():
            if hmac.compare_digest(annotator.token.encode(), token.encode()):
                found = annotator
        return found.name if found is not None and not found.revoked else None

    # -- changing -----------------------------------------------------------------
    def add(self, name: str, token: str | None = None) -> Annotator:
        """The annotator `name`: the existing one (a revoked one comes back with a new
        token), or a new one with `token` (default: a random one)."""
        check_name(name)
        if token is not None and len(token) < MIN_TOKEN:
            raise ConfigError(f"a token must be at least {MIN_TOKEN} characters")
        everyone = self.annotators()
        held = everyone.get(name)
        if held is not None and not held.revoked and token in (None, held.token):
            return held
        if token is not None and any(a.token == token for a in everyone.values()):
            raise ConfigError(f"that token is already {name}'s or another annotator's")
        fresh = Annotator(name, token or secrets.token_urlsafe(16), time.time())
        self._write({**everyone, name: fresh})
        return fresh

    def revoke(self, name: str) -> Annotator:
        everyone = self.annotators()
        if name not in everyone:
            known = ", ".join(everyone) or "none"
            raise ConfigError(f"no annotator {name!r} in {self.path}; known: {known}")
        revoked = Annotator(**{**asdict(everyone[name]), "revoked": True})
        self._write({**everyone, name: revoked})
        return revoked

    def _write(self, everyone: dict[str, Annotator]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{ROSTER_FILE}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({name: asdict(a) for name, a in everyone.items()}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)
