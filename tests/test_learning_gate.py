"""The learning gate (issue 30): the README's demo sweep, shortened to `ppo` and `ours`
on one seed, still learns cartpole through the real path (Ray, Tune, RLlib, the
rating service, the relabelling connector, the synthetic rater).

Unit tests stayed green while speed changes changed what agents learn (RLlib's KL
penalty off, sampling in the trial process, fused Adam); this test fails then. Its
budget and threshold, and the runs that chose them, are in bench/learning_gate.py.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from bench.learning_gate import STEPS, THRESHOLDS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_sweep_still_learns_cartpole(tmp_path):
    gate = subprocess.run(
        [sys.executable, "-m", "bench.learning_gate", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    report = gate.stdout[gate.stdout.find("learning gate:") :]
    assert gate.returncode == 0, report or gate.stdout[-3000:] + gate.stderr[-3000:]
    assert f"learning gate: demo.yaml, {STEPS:,} env steps" in report
    rows = [line for line in report.splitlines() if line.startswith(("| ppo |", "| ours |"))]
    assert len(rows) == 2, report
    for row in rows:
        method, eval_return = row.split("|")[1].strip(), float(row.split("|")[3])
        assert eval_return >= THRESHOLDS[method], report
