"""Ray's startup timeout (a busy machine) reaches the user as one line and exit 1.

Ray's failure is injected at its boundary: a real node that misses Ray's fixed 30 s
needs a machine loaded for the purpose (the suite beside a campaign did it)."""

import pytest
import ray

from rbrl_ray.cli import run_main
from rbrl_ray.ray_start import RayStartError, init_ray

RAYS_WORDS = (
    "The current node timed out during startup. This could happen because some of the "
    "raylet failed to startup or the GCS has become overloaded."
)  # ray/_private/node.py, 2.60


def failing_init(message: str):
    def init(**kwargs):
        raise Exception(message)

    return init


def test_the_startup_timeout_is_one_line_and_exit_1(monkeypatch, capsys):
    monkeypatch.setattr(ray, "init", failing_init(RAYS_WORDS))

    def main(argv):
        init_ray(num_cpus=1)
        return 0

    with pytest.raises(SystemExit) as exited:
        run_main(main, "rbrl_ray.sweep")
    assert exited.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("rbrl_ray.sweep: error: Ray's local node did not register")
    assert "run the command again" in line


def test_any_other_failure_of_ray_propagates_as_ray_raised_it(monkeypatch):
    monkeypatch.setattr(ray, "init", failing_init("something else"))
    with pytest.raises(Exception, match="something else") as raised:
        init_ray()
    assert not isinstance(raised.value, RayStartError)
