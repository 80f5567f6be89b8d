"""What a benchmark ran on: recorded beside every result so numbers stay comparable."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

import psutil

PACKAGES = ("ray", "torch", "mujoco", "dm_control", "gymnasium", "stable_baselines3")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe_machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
    }
