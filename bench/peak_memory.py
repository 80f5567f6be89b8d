"""Peak resident memory of a process and everything it starts, sampled in a thread.

A local Ray run is a tree: the driver starts gcs_server and the raylet, the
raylet starts the workers (EnvRunner, rating service). `trial` counts the driver
and the Ray worker processes that host an actor or task (what a trial costs on a
cluster node that already runs Ray); `total` also counts Ray's own daemons.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil

GIB = 1024**3


@dataclass
class PeakMemory:
    trial_gib: float = 0.0
    total_gib: float = 0.0


def _is_trial_process(proc: psutil.Process, root_pid: int) -> bool:
    if proc.pid == root_pid:
        return True
    name = proc.name()
    return name.startswith("ray::") and name != "ray::IDLE"


def _sample(root: psutil.Process) -> tuple[float, float]:
    trial = total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            rss = proc.memory_info().rss
            total += rss
            if _is_trial_process(proc, root.pid):
                trial += rss
        except psutil.Error:  # the process ended between listing and reading
            continue
    return trial / GIB, total / GIB


class PeakMemoryMonitor:
    """`with PeakMemoryMonitor(pid) as m: ...`, then read `m.peak`."""

    def __init__(self, pid: int, interval_s: float = 0.25) -> None:
        self.root = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak = PeakMemory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                trial, total = _sample(self.root)
            except psutil.Error:
                return
            self.peak.trial_gib = max(self.peak.trial_gib, trial)
            self.peak.total_gib = max(self.peak.total_gib, total)

    def __enter__(self) -> PeakMemoryMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
