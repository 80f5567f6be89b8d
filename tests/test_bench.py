"""bench/throughput.py and bench/fidelity.py: bad input, the goal ratios, tiny real runs.

The real runs use the `small` PPO preset and a few thousand steps: they check
that every measurement runs and is recorded, not how fast it is.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.learning_runs import KINDS as LEARNING_KINDS
from bench.packed import KINDS as PACKED_KINDS
from bench.throughput import build_parser, goals, start_record, summarise
from bench.throughput_runs import KINDS
from rbrl_ray.envs import TASK_NAMES
from rbrl_ray.experiment import PPO_PRESETS
from rbrl_ray.methods import REWARD_METHODS

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _run(script, *args, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", f"bench.{Path(script).stem}", *args],
        cwd=BENCH.parent,  # benchmarks run from the checkout, not installed
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "script, args, names",
    [
        ("throughput.py", ["--env", "pong"], ["'pong'", *TASK_NAMES]),
        ("throughput.py", ["--only", "raw,gpu"], ["'gpu'", *KINDS]),
        ("throughput.py", ["--repeats", "0"], ["repeats must be >= 1"]),
        ("throughput.py", ["--preset", "huge"], ["'huge'", "paper", "small"]),
        ("fidelity.py", ["--envs", "cartpole-balance,pong"], ["'pong'", *TASK_NAMES]),
        ("fidelity.py", ["--classes", "1"], ["classes must be 2..10"]),
        ("fidelity.py", ["--stages", "1"], ["stages must be >= 2"]),
        ("learning.py", ["--env", "pong"], ["'pong'", *TASK_NAMES]),
        ("learning.py", ["--kinds", "ppo,a2c"], ["'a2c'", *LEARNING_KINDS]),
        ("learning.py", ["--seeds", "0,x"], ["--seeds", "'0,x'"]),
        ("learning.py", ["--ppo", "lr=-1"], ["lr", "greater than 0"]),
        ("learning.py", ["--ppo", "init=xavier"], ["init", "'orthogonal'", "'torch'"]),
        ("learning.py", ["--ppo", "kl=1"], ["'kl=1'", "free_log_std", "adam_eps"]),
        ("packed.py", ["--env", "pong"], ["'pong'", *TASK_NAMES]),
        ("packed.py", ["--only", "ppo,a3c"], ["'a3c'", *PACKED_KINDS]),
        ("packed.py", ["--trials", "0"], ["trials must be >= 1"]),
        ("packed.py", ["--config", "nowhere.yaml"], ["'nowhere.yaml'", "no such sweep file"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, script, args, names):
    result = _run(script, *args, "--out", str(tmp_path / "never"), timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0]
    assert not (tmp_path / "never").exists()


def _summary(rate: float, gib: float = 1.0) -> dict[str, float]:
    return summarise([{"steps_per_s": rate, "peak_trial_gib": gib, "peak_total_gib": gib}])


def test_goal_ratios_come_from_medians():
    ppo = summarise(
        [
            {"steps_per_s": r, "peak_trial_gib": g, "peak_total_gib": 2 * g}
            for r, g in ((300, 1.0), (500, 1.5), (400, 1.2))
        ]
    )
    assert ppo["median_steps_per_s"] == 400
    assert (ppo["min_steps_per_s"], ppo["max_steps_per_s"]) == (300, 500)
    assert (ppo["peak_trial_gib"], ppo["peak_total_gib"]) == (1.5, 3.0)
    ratios = goals(
        {
            "raw": _summary(1000, 0.1),
            "sample": _summary(800),
            "floor": _summary(500),
            "sb3": _summary(200),
            "ppo": ppo,
            "ours": _summary(320, 1.8),
        }
    )
    assert ratios["ppo_over_sb3"] == pytest.approx(2.0)
    assert ratios["ours_over_ppo"] == pytest.approx(0.8)
    assert ratios["ours_extra_wall"] == pytest.approx(0.25)  # 400/320 - 1
    assert ratios["sample_over_raw"] == pytest.approx(0.8)
    assert ratios["ppo_over_floor"] == pytest.approx(0.8)
    assert ratios["sb3_over_floor"] == pytest.approx(0.4)
    assert ratios["peak_trial_gib"] == 1.8  # learners only, not the raw env


def test_goals_skip_what_was_not_measured():
    assert goals({"raw": _summary(1000), "sample": _summary(500)}) == {
        "sample_over_raw": pytest.approx(0.5)
    }


@pytest.mark.slow
def test_throughput_measures_and_records_every_kind(tmp_path):
    # One repeat: the repeat loop is plain; the medians over repeats are tested above.
    result = _run(
        "throughput.py",
        *("--env", "cartpole-balance", "--preset", "small", "--repeats", "1"),
        *("--only", "raw,sample,floor,sb3,ppo,ours", "--steps", "2000", "--raw-steps", "300"),
        *("--out", str(tmp_path)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "throughput_cartpole-balance.json").read_text())
    assert record["preset"] == "small" and record["machine"]["cores"] >= 1
    assert list(record["runs"]) == ["raw", "sample", "floor", "sb3", "ppo", "ours"]
    for kind, runs in record["runs"].items():
        (run,) = runs
        assert run["steps"] >= (300 if kind == "raw" else 2000)
        assert run["steps_per_s"] > 0 and run["peak_trial_gib"] > 0
        s = record["summary"][kind]
        assert s["min_steps_per_s"] == s["median_steps_per_s"] == s["max_steps_per_s"]
    # the floor: 2 rollouts of 1,000 rows, 2 epochs of 4 minibatches of 250 each
    (floor,) = record["runs"]["floor"]
    assert floor["gradient_steps"] == 16 and floor["torch_threads"] >= 1
    for kind in ("ppo", "ours"):
        (run,) = record["runs"][kind]
        assert len(run["iteration_seconds"]) == 2  # 1,000-step iterations of the small preset
        assert sum(run["iteration_seconds"]) <= run["seconds"]
    # `ours` relabels every batch (the exploration reward this early); `ppo` does not.
    assert record["runs"]["ours"][0]["relabel_seconds_per_update"] > 0
    assert record["runs"]["ppo"][0]["relabel_seconds_per_update"] is None
    assert set(record["goals"]) >= {
        "sample_over_raw",
        "sb3_over_floor",
        "ours_over_ppo",
        "peak_trial_gib",
        "peak_trial_pss_gib",
    }
    assert record["goals"]["ours_over_ppo"] > 0
    assert 0 < record["goals"]["peak_trial_pss_gib"] <= record["goals"]["peak_trial_gib"]
    table = (tmp_path / "throughput_cartpole-balance.md").read_text()
    assert "SB3 PPO" in table and "sample_over_raw" in table


@pytest.mark.slow
def test_fidelity_scores_every_method_on_snapshot_segments(tmp_path):
    result = _run(
        "fidelity.py",
        *("--envs", "cartpole-balance", "--ratings", "40", "--heldout", "20"),
        *("--ppo-steps", "2000", "--stages", "2", "--max-epochs", "2"),
        *("--out", str(tmp_path)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "fidelity.json").read_text())
    env = record["envs"]["cartpole-balance"]
    assert sum(env["rated_histogram"]) == 40 and sum(env["heldout_histogram"]) == 20
    low, high = env["rating_range"]
    assert low < high
    assert len(env["stage_mean_returns"]) == 2
    assert list(env["methods"]) == list(REWARD_METHODS)
    for scores in env["methods"].values():
        assert -1 <= scores["pearson"] <= 1 and 0 <= scores["accuracy"] <= 1
    assert "snapshot 2/2" in result.stdout
    assert (tmp_path / "fidelity.png").stat().st_size > 0
    assert "| cartpole-balance |" in (tmp_path / "fidelity.md").read_text()


def test_grid_cost_prices_each_trial_at_its_packed_rate_and_its_reservation(tmp_path):
    from bench.grid_cost import reserved_cpus
    from rbrl_ray.sweep.grid import expand, load_sweep

    paper = BENCH.parent / "tune_configs" / "paper.yaml"
    specs = expand(*load_sweep(paper), where=str(paper))
    # one spec per method: a reservation depends on the method, not on env or seed
    cpus = {s.method: reserved_cpus(s) for s in {s.method: s for s in specs}.values()}
    rate = {"ppo": 400, "ours": 200, "sb3": 800}
    record = {
        "env": "cartpole-balance",
        "steps": 250_000,  # the first 250k steps of a reward trial run at the `ours` rate
        "summary": {k: {"steps_per_s_per_trial": r} for k, r in rate.items()},
    }
    path = tmp_path / "packed_cartpole-balance.json"
    path.write_text(json.dumps(record))
    result = subprocess.run(
        [sys.executable, "-m", "bench.grid_cost", str(path)],
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # paper.yaml: 60 ppo trials and 1,500 reward trials, 4M steps each
    reward_trial = 250e3 / 200 + 3.75e6 / 400
    ours = (60 * 4e6 / 400 * cpus["ppo"] + 1500 * reward_trial * cpus["ours"]) / 3600
    # SB3 pays the same reward-learning time (exploration reward, fits) as ours did
    sb3 = (1560 * 4e6 / 800 + 1500 * (250e3 / 200 - 250e3 / 400)) / 3600
    assert f"| this project | {ours:,.0f} |" in result.stdout
    assert f"| SB3 | {sb3:,.0f} |" in result.stdout
    assert "1,560 trials" in result.stdout
    del record["summary"]["sb3"]
    path.write_text(json.dumps(record))
    result = subprocess.run(
        [sys.executable, "-m", "bench.grid_cost", str(path)],
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "no measurement of sb3" in result.stderr


@pytest.mark.parametrize(
    "runners, service, method, expected",
    [(0, 0.0, "ours", 1), (0, 0.25, "ours", 1.25), (1, 1.0, "ours", 3), (1, 1.0, "ppo", 2)],
)
def test_a_trial_reserves_its_main_process_runners_and_service(runners, service, method, expected):
    from bench.grid_cost import reserved_cpus
    from rbrl_ray.experiment import ExperimentSpec

    spec = ExperimentSpec(
        env="cartpole-balance",
        method=method,
        classes=3 if method != "ppo" else None,
        ppo=PPO_PRESETS["paper"].model_copy(update={"num_env_runners": runners}),
        service_cpus=service,
    )
    assert reserved_cpus(spec) == expected


def test_a_partial_rerun_keeps_the_other_measurements_and_never_overwrites(tmp_path):
    args = build_parser().parse_args(["--out", str(tmp_path), "--only", "ppo"])
    path = tmp_path / "throughput_cartpole-balance.json"
    earlier = start_record(path, args, ["raw", "ppo"])
    run = {"steps_per_s": 100.0, "peak_trial_gib": 1.0, "peak_total_gib": 1.5}
    earlier["runs"] = {"raw": [run], "ppo": [run]}
    path.write_text(json.dumps(earlier))

    again = start_record(path, args, ["ppo"])
    assert list(again["runs"]) == ["raw"]  # ppo is measured anew, raw is kept
    assert again["summary"]["raw"]["median_steps_per_s"] == 100.0

    other = build_parser().parse_args(["--out", str(tmp_path), "--steps", "64000"])
    start_record(path, other, ["ppo"])
    assert not path.exists()  # moved aside, not overwritten
    (aside,) = tmp_path.glob("throughput_cartpole-balance.*.json")
    assert json.loads(aside.read_text())["runs"]["ppo"] == [run]


def test_a_learning_record_survives_a_new_ppo_field_but_not_a_changed_one(tmp_path):
    from bench.learning import Record

    ppo = PPO_PRESETS["small"].model_dump()
    settings = json.loads(json.dumps({"env": "cartpole-balance", "steps": 9, "ppo": ppo}))
    written_before = {**settings, "ppo": {k: v for k, v in ppo.items() if k != "update_loop"}}
    path = tmp_path / "learning_x.json"
    path.write_text(json.dumps({"settings": written_before, "runs": {"ppo/0": {"steps": 9}}}))
    assert Record(path, settings).done("ppo/0")

    changed = {**written_before, "ppo": {**written_before["ppo"], "lr": 1.0}}
    path.write_text(json.dumps({"settings": changed, "runs": {"ppo/0": {"steps": 9}}}))
    assert not Record(path, settings).done("ppo/0")
    assert not path.exists() and len(list(tmp_path.glob("learning_x.*.json"))) == 1


@pytest.mark.slow
def test_learning_records_curves_of_both_implementations_and_skips_finished_runs(tmp_path):
    args = (
        *("--env", "cartpole-balance", "--preset", "small", "--steps", "2000"),
        *("--seeds", "0", "--kinds", "ppo,sb3", "--jobs", "2", "--target", "1000"),
        *("--name", "tiny", "--out", str(tmp_path)),
    )
    result = _run("learning.py", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "learning_tiny.json").read_text(), parse_constant=_no_nan)
    assert sorted(record["runs"]) == ["ppo/0", "sb3/0"]
    assert record["settings"]["ppo"]["free_log_std"] is True
    for run in record["runs"].values():
        assert run["steps"] >= 2000
        steps = [point["steps"] for point in run["curve"]]
        assert steps == sorted(steps) and steps[-1] == run["steps"]
        # 1,000-step episodes from 2 envs: every second 1,000-step iteration ends two
        assert any(point["return"] is not None for point in run["curve"])
    table = (tmp_path / "learning_tiny.md").read_text()
    assert "SB3 PPO" in table and "every ppo seed's final ≥ 1000: NO" in table
    assert (tmp_path / "learning_tiny.png").stat().st_size > 0

    again = _run("learning.py", *args)
    assert again.returncode == 0 and "0 runs to do, 2 already in" in again.stdout
    assert json.loads((tmp_path / "learning_tiny.json").read_text())["runs"] == record["runs"]


@pytest.mark.slow
def test_packed_runs_concurrent_tune_trials_with_the_sweeps_resources_and_sb3(tmp_path):
    smoke = BENCH.parent / "tune_configs" / "smoke.yaml"  # 1 CPU a trial, small preset
    args = ("--config", str(smoke), "--steps", "2000", "--trials", "2", "--only", "ppo,sb3")
    result = _run("packed.py", *args, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "packed_cartpole-balance.json").read_text())
    assert list(record["runs"]) == ["ppo", "sb3"]
    for kind in ("ppo", "sb3"):
        trials = record["runs"][kind]["trials"]
        assert len(trials) == 2 and all(
            t["steps"] >= 2000 and t["end"] > t["start"] for t in trials
        )
        s = record["summary"][kind]
        assert s["reserved_cpus_per_trial"] == 1
        assert s["steps_per_s_per_core"] == pytest.approx(
            s["aggregate_steps_per_s"] / os.cpu_count()
        )
    assert record["goals"]["ppo_over_sb3"] > 0
    # a 1-CPU Tune trial runs torch on one thread, as the SB3 runs do
    assert all(t["torch_threads"] == 1 for k in ("ppo", "sb3") for t in record["runs"][k]["trials"])
    assert "| ppo | 1 |" in (tmp_path / "packed_cartpole-balance.md").read_text()


def _no_nan(name):
    raise ValueError(f"not strict JSON: {name}")


def test_learning_table_compares_records_at_one_budget(tmp_path, capsys):
    from bench.learning_table import main as table

    def record(ppo_changes, returns):
        curve = [{"steps": 1000 * (i + 1), "return": r} for i, r in enumerate(returns)]
        ppo = json.loads(PPO_PRESETS["paper"].model_copy(update=ppo_changes).model_dump_json())
        return {
            "settings": {"env": "cartpole-balance", "steps": 4000, "seeds": [0], "ppo": ppo},
            "runs": {"ppo/0": {"curve": curve}},
        }

    (tmp_path / "learning_a.json").write_text(json.dumps(record({}, [1, 2, None, 4, 9])))
    (tmp_path / "learning_b.json").write_text(json.dumps(record({"init": "torch"}, [5, 7, 9])))
    assert table(["a", "b", "--at", "4000", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| a, ppo (paper preset) | 3.0 | 3.0 |" in out  # the last two returns ≤ 4,000
    assert "| b, ppo (init=torch) | 8.0 | 8.0 |" in out  # a shorter record: its last two


def test_the_update_floor_computes_ppos_clipped_loss():
    import torch

    from bench.update_floor import ActorCritic, synthetic_rollout

    p = PPO_PRESETS["small"]
    model = ActorCritic(5, 2, p)
    model.log_std.data[:] = torch.tensor([0.3, -0.2])
    batch = synthetic_rollout(5, 2, 64)
    mean = model.pi(batch["obs"])
    logp = torch.distributions.Normal(mean, model.log_std.exp()).log_prob(batch["act"]).sum(-1)
    ratio = torch.exp(logp - batch["logp"])
    adv = batch["adv"]
    clipped = ratio.clamp(1 - p.clip_param, 1 + p.clip_param) * adv
    vf = (model.vf(batch["obs"]).squeeze(-1) - batch["ret"]).pow(2).mean()
    expected = -torch.min(ratio * adv, clipped).mean() + p.vf_loss_coeff * vf
    assert torch.allclose(model.loss(batch, p), expected, atol=1e-5)
