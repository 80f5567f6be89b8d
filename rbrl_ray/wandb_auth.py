"""Whether W&B can log online here: an API key in the environment, or the one
`wandb login` stored in the netrc file (as Ray's own W&B callback accepts). Read
without importing wandb, so a command can decide before Ray starts."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from urllib.parse import urlparse


def has_wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    try:
        entry = netrc.netrc(str(path)).authenticators(host or "")
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    return bool(entry and entry[2])
