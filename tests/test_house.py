"""House rules of the code base, checked on its source: no import cycles, every metric
name written once, and the CLI's error type only in the CLI layer."""

import ast
from pathlib import Path

from rbrl_ray import metric_names

PACKAGE = Path(__file__).resolve().parents[1] / "rbrl_ray"
#: The command-line layer: the only modules that may raise or import UsageError.
CLI_LAYER = {
    "rbrl_ray.cli",
    "rbrl_ray.train",
    "rbrl_ray.rate",
    "rbrl_ray.play",
    "rbrl_ray.rating_boundaries",
} | {f"rbrl_ray.{app}.cli" for app in ("sweep", "report", "reward_bench")}


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(), filename=str(path))
    return out


def imported(tree: ast.Module, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_import_cycles_among_our_modules():
    trees = modules()
    # every import counts, function-level ones too: none may dodge a cycle
    graph = {
        name: {m for m in imported(tree, top_level_only=False) if m in trees and m != name}
        for name, tree in trees.items()
    }
    for name in graph:  # a package imports nothing through its submodules' names
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, "import cycle: " + " -> ".join([*path, name])
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_every_metric_name_is_written_once():
    names = {
        value
        for key, value in vars(metric_names).items()
        if key.isupper() and isinstance(value, str) and "/" in value
    }
    assert "rating/num_ratings" in names and "reward_model/pearson_true" in names
    for name, tree in modules().items():
        if name == "rbrl_ray.metric_names":
            continue
        literals = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not names & literals, f"{name} spells out {sorted(names & literals)}"


def test_only_the_cli_layer_imports_the_cli_error_type():
    for name, tree in modules().items():
        if name not in CLI_LAYER:
            assert "rbrl_ray.cli.UsageError" not in imported(tree, top_level_only=False), name


def test_make_clean_keeps_every_committed_result(tmp_path):
    """`make clean` empties results/ of generated outputs but never a committed record."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        import pytest

        pytest.skip("make is not installed here")
    root = Path(__file__).resolve().parent.parent
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
    assert tracked, "no committed results: this test checks nothing"
    shutil.copy(root / "Makefile", tmp_path)
    for path in tracked:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("committed")
    for generated in ("results/sweeps/run/trial/result.json", "results/report/index.html"):
        (tmp_path / generated).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / generated).write_text("generated")
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert all((tmp_path / path).exists() for path in tracked)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == sorted(
        {Path(path).parts[1] for path in tracked}
    )


#: Layers, lowest first: the science floor never imports the RLlib add-on or an
#: application; the add-on never imports an application (it is given a rater by
#: name, feedback/query.py, instead of importing the rating page's).
FLOOR = ("rbrl_ray.feedback", "rbrl_ray.reward", "rbrl_ray.experiment", "rbrl_ray.envs")
ADDON = ("rbrl_ray.rllib",)
APPLICATIONS = tuple(
    f"rbrl_ray.{app}"
    for app in (
        "human",
        "sweep",
        "campaign",
        "report",
        "reward_bench",
        "train",
        "rate",
        "play",
        "rating_boundaries",
    )
)


def test_no_import_runs_up_a_layer():
    def within(name: str, layer: tuple[str, ...]) -> bool:
        return any(name == top or name.startswith(top + ".") for top in layer)

    upward = []
    for name, tree in modules().items():
        above = ADDON + APPLICATIONS if within(name, FLOOR) else APPLICATIONS
        if within(name, FLOOR) or within(name, ADDON):
            upward += [f"{name} -> {m}" for m in imported(tree, False) if within(m, above)]
    assert not upward, "imports up a layer: " + "; ".join(sorted(upward))


#: The speed layer (rllib/lean/) and the one module that switches it on.
LEAN = "rbrl_ray.rllib.lean"
LEAN_SWITCHES = "rbrl_ray.rllib.lean_switches"
#: What the speed layer may import of ours: the env vector's task lookup, metric names,
#: and the observation filter whose arithmetic its own filter repeats.
LEAN_MAY_IMPORT = ("rbrl_ray.envs", "rbrl_ray.metric_names", "rbrl_ray.rllib.observation_filter")


def _ours(name: str) -> bool:
    return name == "rbrl_ray" or name.startswith("rbrl_ray.")


def _under(name: str, top: str) -> bool:
    return name == top or name.startswith(top + ".")


def test_the_speed_layer_is_reached_only_through_its_switches():
    trees = modules()
    users = sorted(
        name
        for name, tree in trees.items()
        if not _under(name, LEAN) and any(_under(m, LEAN) for m in imported(tree, False))
    )
    assert users == [LEAN_SWITCHES]
    reaching_up = [
        f"{name} -> {m}"
        for name, tree in trees.items()
        if _under(name, LEAN)
        for m in imported(tree, False)
        if _ours(m) and not _under(m, LEAN) and not any(_under(m, ok) for ok in LEAN_MAY_IMPORT)
    ]
    assert not reaching_up, "the speed layer imports the add-on: " + "; ".join(reaching_up)


#: RLlib private members used outside the speed layer, each for a reason RLlib leaves no
#: public way around (module -> members). Anything new here fails the test.
RLLIB_PRIVATE_ALLOWED = {
    # RLlib's curiosity example inserts its connector pieces the same way
    "rbrl_ray.rllib.relabel": {"_learner_connector"},
}
#: Private attribute names our own classes define (not RLlib's).
OWN_PRIVATE = {"_env", "_slices", "_obs_dim", "_needs_reset", "_filter", "_start"}


def _private_attributes(tree: ast.Module) -> set[str]:
    """Every `x._name` read or written, except `self._name` our class defines."""
    assigned_on_self = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }
    methods = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and node.attr not in assigned_on_self | methods | OWN_PRIVATE
    }


def test_no_rllib_private_member_outside_the_speed_layer():
    found = {}
    for name, tree in modules().items():
        if _under(name, LEAN) or not any(m.startswith("ray.rllib") for m in imported(tree, False)):
            continue
        private = _private_attributes(tree) - RLLIB_PRIVATE_ALLOWED.get(name, set())
        if private:
            found[name] = sorted(private)
    assert not found, f"RLlib private members outside rllib/lean/: {found}"


def test_the_private_member_scan_sees_one():
    tree = ast.parse("import ray.rllib\ndef f(runner):\n    return runner._env_to_module\n")
    assert _private_attributes(tree) == {"_env_to_module"}


def test_the_install_puts_only_rbrl_ray_into_site_packages():
    """pyproject's package list, as setuptools reads it: benchmarks and tests stay in
    the repository (a top-level `bench` would clash with other projects')."""
    import tomllib
    from setuptools import find_packages

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    found = find_packages(where=str(PACKAGE.parent), include=include)
    assert "rbrl_ray" in found and "rbrl_ray.rllib.lean" in found
    assert {name.split(".")[0] for name in found} == {"rbrl_ray"}
