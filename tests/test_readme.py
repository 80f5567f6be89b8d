"""Every command the README shows runs as written: each `python -m rbrl_ray.*` line
with --dry-run runs; the others' module answers --help and knows every option the
line uses; `ray job submit` knows the options it is given."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    """Each command in the README's code blocks, continuation lines joined, comments
    and the setup prefix (`python3 -m venv ... &&`) dropped."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```(?:bash)?\n(.*?)```", text, flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.split("  #")[0].strip()
            command = command.split("&& ")[-1]  # the part after the setup
            if re.match(r"(\.venv/bin/)?python -m rbrl_ray\.|RAY_AUTH_MODE=token ray ", command):
                commands.append(command)
    return commands


def options(command: str) -> list[str]:
    return [word.split("=")[0] for word in shlex.split(command) if word.startswith("--")]


def check(command: str) -> str | None:
    """None if the command is fine, else why not."""
    words = shlex.split(command)
    if words[0].startswith("RAY_AUTH_MODE"):  # ray job submit ... -- python -m rbrl_ray...
        head, _, job = command.partition(" -- ")
        shown = subprocess.run([str(BIN / "ray"), "job", "submit", "--help"],
                               capture_output=True, text=True, timeout=120).stdout  # fmt: skip
        missing = [o for o in options(head) if o not in shown]
        return f"ray job submit lacks {missing}" if missing else check(job.strip())
    module = words[words.index("-m") + 1]
    if "--dry-run" in words:
        done = subprocess.run([sys.executable, *words[1:]], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        return None if done.returncode == 0 else f"{command}: {done.stderr[-500:]}"
    shown = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300).stdout  # fmt: skip
    missing = [o for o in options(command) if o not in shown]
    return f"{module} --help lacks {missing}" if missing else None


def test_the_readme_shows_commands():
    commands = readme_commands()
    assert any("rbrl_ray.sweep" in c for c in commands) and len(commands) >= 5, commands


@pytest.mark.slow
def test_every_readme_command_runs_as_written():
    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for p in pool.map(check, readme_commands()) if p]
    assert not problems, "\n".join(problems)
