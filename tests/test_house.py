"""House rules of the code base, checked on its source: no import cycles, every metric
name written once, and the CLI's error type only in the CLI layer."""

import ast
from pathlib import Path

from rbrl_ray import metric_names

PACKAGE = Path(__file__).resolve().parents[1] / "rbrl_ray"
#: The command-line layer: the only modules that may raise or import UsageError.
CLI_LAYER = {"rbrl_ray.cli", "rbrl_ray.train", "rbrl_ray.rate", "rbrl_ray.play"} | {
    f"rbrl_ray.{app}.cli" for app in ("sweep", "report", "reward_bench")
}


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
    for app in ("human", "sweep", "campaign", "report", "reward_bench", "train", "rate", "play")
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
