"""Malformed input to every entry point: one line naming the bad value (and what is
allowed), exit code 2, no traceback, and nothing started. One table, run
concurrently (each case is its own process, as a user runs it)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRAIN = "-m rbrl_ray.train --env cartpole-balance --method ours --classes 3 --timesteps 10"
SMOKE = "--config tune_configs/smoke.yaml"

# (command line after `python`, text the one error line must hold); {tmp} is a fresh folder
CORPUS: list[tuple[str, str]] = [
    ("-m rbrl_ray.sweep", "the following arguments are required: --config"),
    ("-m rbrl_ray.sweep --config {tmp}/none.yaml", "none.yaml: no such file"),
    ("-m rbrl_ray.sweep --config {tmp}/cut.yaml", "malformed YAML at line 2 (a flow sequence"),
    ("-m rbrl_ray.sweep --config {tmp}/typo.yaml", "unknown key 'methdos'; allowed: name, envs"),
    ("-m rbrl_ray.sweep --config {tmp}/varied.yaml",
     "reward_model.k: Input should be greater than 0, got -3 (one of the values the sweep varies"),
    (f"-m rbrl_ray.sweep {SMOKE} --storage ftp://x/y", "unsupported --storage scheme 'ftp://'"),
    (f"-m rbrl_ray.sweep {SMOKE} --max-concurrent 0", "max-concurrent must be >= 1, got 0"),
    (f"-m rbrl_ray.sweep {SMOKE} --wandb loud", "invalid choice: 'loud'"),
    ("-m rbrl_ray.train --method ours --timesteps 10 --out {tmp}/t", "--env is required"),
    (TRAIN.replace("cartpole-balance", "pong") + " --out {tmp}/t", "unknown env 'pong'; allowed"),
    (TRAIN.replace("ours", "dpo") + " --out {tmp}/t", "unknown method 'dpo'; allowed: ppo"),
    (TRAIN.replace("3", "1", 1) + " --out {tmp}/t", "classes must be 2..10, got 1"),
    (TRAIN.replace(" --classes 3", "") + " --out {tmp}/t", "give classes (2..10)"),
    (TRAIN.replace("10", "0") + " --out {tmp}/t", "timesteps must be >= 1, got 0"),
    ("-m rbrl_ray.train --resume {tmp}/nothing", "no trial to resume in"),
    (TRAIN + " --out {tmp}/t --noise temp=2", "unknown noise setting 'temp=2'; allowed"),
    (TRAIN + " --out {tmp}/t --learner-gpus 1", "torch sees no CUDA device here"),
    (TRAIN + " --out {tmp}/t --rater robot", "invalid choice: 'robot'"),
    (TRAIN.replace("ours --classes 3", "ppo") + " --out {tmp}/t --rater human",
     "method 'ppo' has none"),
    (TRAIN + " --out {tmp}/t --rating-port 70000", "rating-port must be 0..65535, got 70000"),
    (TRAIN + " --out {tmp}/t --preset huge", "invalid choice: 'huge'"),
    ("-m rbrl_ray.report {tmp}/no/such", "no such sweep folder"),
    ("-m rbrl_ray.report {tmp}", "no trials in"),
    ("-m rbrl_ray.reward_bench --env pong", "unknown env 'pong'; allowed"),
    ("-m rbrl_ray.reward_bench --classes 11", "classes must be 2..10, got 11"),
    ("-m rbrl_ray.reward_bench --ratings 0", "ratings must be >= 1, got 0"),
    ("-m rbrl_ray.reward_bench --methods ours,dpo", "unknown method 'dpo'; allowed: rbrl"),
    ("-m rbrl_ray.reward_bench --noise skip=1.5", "noise setting skip"),
    ("-m rbrl_ray.reward_bench --rated-store {tmp}/none --classes 3", "no ratings_*.npz"),
    ("-m rbrl_ray.campaign --config {tmp}/none.yaml", "none.yaml: no such file"),
    ("-m rbrl_ray.campaign --config tune_configs/campaign.yaml --tiers A,Z --dry-run",
     "unknown tier 'Z'; allowed: A"),
    ("-m rbrl_ray.campaign --config tune_configs/campaign.yaml --rerun nokey",
     "no record 'nokey'"),
    ("-m rbrl_ray.rate --segments scripted --classes 3", "--segments scripted needs --env"),
    ("-m rbrl_ray.rate --segments scripted --env cartpole-balance --classes 3 --host 0.0.0.0",
     "add --expose"),
    ("-m rbrl_ray.rate --segments {tmp}/none --classes 3", "not 'scripted' and not a folder"),
    ("-m rbrl_ray.rate --segments scripted --env walker-walk --classes 12",
     "classes must be 2..10, got 12"),
    ("-m rbrl_ray.rate --segments scripted --env cartpole-balance --classes 3 --overlap 2",
     "overlap must be 0..1, got 2"),
    ("-m rbrl_ray.rate --segments scripted --env cartpole-balance --classes 3 --annotators a,a",
     "give distinct names"),
    ("-m rbrl_ray.rate --status {tmp}/none", "no session.json; not a store made by"),
    ("-m rbrl_ray.rate --export {tmp} {tmp}/table.txt", "export to a .parquet or a .csv"),
    ("-m rbrl_ray.rate --revoke bob", "--revoke needs --out"),
    ("-m rbrl_ray.play {tmp}/none", "no such folder"),
    ("-m rbrl_ray.play {tmp}", "no checkpoint in it"),
    ("-m rbrl_ray.play {tmp} --out {tmp}/video.mp4", "the video is WebM"),
    (TRAIN + " --out {tmp}/t --reward-device gpu", "invalid choice: 'gpu'"),
    ("-m bench.throughput --env pong", "unknown env 'pong'; allowed"),
    ("-m bench.throughput --steps 0", "steps must be >= 1, got 0"),
    ("-m bench.throughput --repeats 0", "repeats must be >= 1, got 0"),
    ("-m bench.throughput --only raw,warp", "unknown measurement 'warp'; allowed: raw"),
    ("-m bench.learning --ppo kl=1", "unknown --ppo setting 'kl=1'; allowed keys: lr"),
    ("-m bench.learning --kinds ppo,dqn", "unknown kind 'dqn'; allowed: ppo, sb3, sb3_rbrl, ours"),
    ("-m bench.learning --seeds a,b", "--seeds must be comma-separated integers, got 'a,b'"),
    ("-m bench.learning_gate --ppo kl=1", "unknown --ppo setting 'kl=1'; allowed keys: lr"),
    ("-m bench.learning_gate --steps 0", "steps must be >= 1, got 0"),
    ("-m bench.learning_gate --threshold sb3=1", "--threshold 'sb3=1': the method must be one of"),
    ("-m bench.packed --only ppo,foo", "unknown kind 'foo'; allowed: ppo, ours, sb3"),
    ("-m bench.packed --trials 0", "trials must be >= 1, got 0"),
    ("-m bench.grid_cost {tmp}/none.json", "none.json: no such file"),
    ("-m bench.grid_cost {tmp}/typo.yaml", "not a bench/packed.py record"),
    ("-m bench.fidelity --envs pong", "unknown env 'pong'; allowed: all"),
    ("-m rbrl_ray.rating_boundaries --env pong", "unknown env 'pong'; allowed"),
    ("-m rbrl_ray.rating_boundaries --env cartpole-balance --quantile 0.7",
     "quantile must be in (0, 0.5), got 0.7"),
]  # fmt: skip


def run_case(command: str, tmp: Path) -> tuple[str, subprocess.CompletedProcess]:
    args = command.format(tmp=tmp).split()
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    return command, done


def test_every_entry_point_refuses_bad_input_in_one_line_with_exit_2(tmp_path):
    assert len(CORPUS) >= 40
    (tmp_path / "cut.yaml").write_text("name: t\nenvs: [cartpole-balance\n")
    (tmp_path / "typo.yaml").write_text(
        "name: t\nenvs: [cartpole-balance]\nmethods: [ours]\nclasses: [3]\nseeds: 1\n"
        "timesteps: 100\nmethdos: [x]\n"
    )
    (tmp_path / "varied.yaml").write_text(  # the second value of a varied setting is bad
        "name: t\nenvs: [cartpole-balance]\nmethods: [ours]\nclasses: [3]\nseeds: 1\n"
        "timesteps: 100\nreward_model: {alpha: [1, 2], k: [10, -3]}\n"
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: run_case(case[0], tmp_path), CORPUS))
    wrong = []
    for (command, done), (_, expected) in zip(results, CORPUS, strict=True):
        lines = done.stderr.strip().splitlines()
        ok = (
            done.returncode == 2
            and len(lines) == 1
            and ": error: " in lines[0]
            and expected in lines[0]
            and "Traceback" not in done.stdout + done.stderr
        )
        if not ok:
            wrong.append(f"{command}\n  exit {done.returncode}: {done.stderr.strip()[-400:]}")
    assert not wrong, "\n".join(wrong)
    # nothing was started or written for any of them
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.yaml", "typo.yaml", "varied.yaml"]


def test_the_benchmarks_answer_help():
    scripts = ("throughput.py", "learning.py", "packed.py", "grid_cost.py", "fidelity.py")

    def ask(script: str) -> subprocess.CompletedProcess:
        module = f"bench.{Path(script).stem}"
        return subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    with ThreadPoolExecutor(max_workers=4) as pool:
        for script, done in zip(scripts, pool.map(ask, scripts), strict=True):
            assert done.returncode == 0 and "usage:" in done.stdout, script
