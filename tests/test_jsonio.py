"""Strict, atomic JSON: what strict readers accept, and a full disk loses nothing."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from rbrl_ray.jsonio import dumps, strict, write_json


def strict_load(text: str):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_everywhere():
    value = {"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf}], "d": (np.float32(np.nan),),
             "e": np.array([1.5, np.nan]), "f": np.int64(3), "g": "NaN"}  # fmt: skip
    assert strict(value) == {"a": None, "b": [1.0, None, {"c": None}], "d": [None],
                             "e": [1.5, None], "f": 3, "g": "NaN"}  # fmt: skip
    assert strict_load(dumps(value))["e"] == [1.5, None]


def test_write_json_replaces_the_file_whole(tmp_path):
    path = write_json(tmp_path / "deep" / "r.json", {"x": math.nan})
    assert strict_load(path.read_text()) == {"x": None}
    write_json(path, {"x": 2})
    assert strict_load(path.read_text()) == {"x": 2}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


FULL_DISK = """
import resource, signal, sys
from rbrl_ray.jsonio import write_json
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_json(sys.argv[1], {"big": "x" * 100_000})
except OSError as err:
    print("refused:", err.strerror)
"""


def test_a_full_disk_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = write_json(tmp_path / "summary.json", {"kept": True})
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert "refused: File too large" in done.stdout, done.stderr
    assert strict_load(path.read_text()) == {"kept": True}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_the_strict_reader_used_here_refuses_what_python_would_accept(bad):
    with pytest.raises(ValueError):
        strict_load(f'{{"x": {bad}}}')
