"""Peak resident memory of a process and everything it starts, sampled in a thread.

A local Ray run is a tree: the driver starts gcs_server and the raylet, the
raylet starts the workers (EnvRunner, rating service). `trial` counts the driver
and the Ray worker processes that host an actor or task (what a trial costs on a
cluster node that already runs Ray); `total` also counts Ray's own daemons.

RSS counts a page once per process that maps it: libtorch, MuJoCo and the Ray
object store's pages are counted in each of a trial's three processes. PSS
(proportional set size) splits each shared page between the processes sharing
it, so the PSS of a trial's processes adds up to the physical memory they hold.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil

GIB = 1024**3


@dataclass
class PeakMemory:
    trial_gib: float = 0.0  # RSS, summed
    total_gib: float = 0.0  # RSS, summed
    trial_pss_gib: float = 0.0


def _is_trial_process(proc: psutil.Process, root_pid: int) -> bool:
    if proc.pid == root_pid:
        return True
    name = proc.name()
    return name.startswith("ray::") and name != "ray::IDLE"


def _sample(root: psutil.Process) -> tuple[float, float, float]:
    """RSS of the trial's processes, RSS of all, PSS of the trial's (GiB)."""
    trial = total = trial_pss = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            rss = proc.memory_info().rss
            total += rss
            if _is_trial_process(proc, root.pid):
                trial += rss
                trial_pss += proc.memory_full_info().pss
        except psutil.Error:  # the process ended between listing and reading
            continue
    return trial / GIB, total / GIB, trial_pss / GIB


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
                trial, total, trial_pss = _sample(self.root)
            except psutil.Error:
                return
            self.peak.trial_gib = max(self.peak.trial_gib, trial)
            self.peak.total_gib = max(self.peak.total_gib, total)
            self.peak.trial_pss_gib = max(self.peak.trial_pss_gib, trial_pss)

    def __enter__(self) -> PeakMemoryMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
