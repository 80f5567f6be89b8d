"""The campaign: tiers from one YAML, records of finished trials, runs in pieces."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rbrl_ray.campaign.config import load_campaign
from rbrl_ray.campaign.records import plan
from rbrl_ray.jsonio import DamagedFile
from rbrl_ray.report.summary import missing
from rbrl_ray.report.trials import Trial
from tests.campaign_helpers import SCHEDULE, campaign, stopped_while_resuming, tier, write_campaign

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "tiers, shared, words",
    [
        ({"A": {**tier(["ppo"]), "seedz": 2}}, {}, ["'tiers.A.seedz'", "envs", "timesteps"]),
        ({"A": tier(["dpo"])}, {}, ["'dpo'", "ours_equal"]),
        ({"A": tier(["ppo"])}, {"timesteps": 5}, ["'timesteps' belongs to a tier"]),
        ({"A": tier(["ppo"])}, {"presett": "paper"}, ["'presett'", "preset"]),
        ({}, {}, ["'tiers' must be a mapping"]),
    ],
)
def test_bad_campaign_is_one_line_exit_2(tmp_path, tiers, shared, words):
    run = campaign(write_campaign(tmp_path, tiers, **shared), tmp_path, "--dry-run")
    assert run.returncode == 2, run.stdout + run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("rbrl_ray.campaign: error:")
    for word in words:
        assert word in line, line


def test_unknown_tier_is_named_with_the_allowed_ones(tmp_path):
    config = write_campaign(tmp_path, {"A": tier(["ppo"]), "B": tier(["rbrl"])})
    run = campaign(config, tmp_path, "--tiers", "A,Z", "--dry-run")
    assert run.returncode == 2 and "'Z'" in run.stderr and "A, B" in run.stderr


def test_a_trial_two_tiers_ask_for_runs_once(tmp_path):
    config = write_campaign(
        tmp_path, {"A": tier(["ppo", "ours"]), "B": tier(["ours", "rbrl"], classes=[3, 4])}
    )
    trials = load_campaign(config).trials
    assert len(trials) == 5  # ppo, ours c3 (A and B), rbrl c3, ours c4, rbrl c4
    shared = [t for t in trials if t.spec.method == "ours" and t.spec.classes == 3]
    assert len(shared) == 1 and shared[0].tiers == ("A", "B")
    assert len({t.key for t in trials}) == 5


def _strict(text: str) -> dict:
    def refuse(constant):
        raise AssertionError(f"{constant} in a record")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.slow
def test_interrupted_campaign_resumes_and_never_reruns_a_recorded_trial(tmp_path):
    config = write_campaign(
        tmp_path,
        {"A": tier(["ppo", "ours"], timesteps=3000), "B": tier(["rbrl"], timesteps=3000)},
        schedule=SCHEDULE,
        evaluation={"episodes": 2, "every": 0},
    )
    records = tmp_path / "records" / "camp" / "trials"
    # 1) killed once the first trial's record is written (the second is under way)
    log = tmp_path / "first_run.log"
    with open(log, "w") as output:
        proc = campaign(
            config, tmp_path, "--tiers", "A", "--max-concurrent", "1", stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.time() + 600
    while not list(records.glob("*.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    written = list(records.glob("*.json"))
    assert len(written) == 1, f"{len(written)} records; the run said:\n{log.read_text()[-3000:]}"
    (first,) = written
    first_bytes = first.read_bytes()

    # 1b) every tier, stopped with Ctrl+C while the resumed run trains: it stops there
    # (it used to go on and start tier B's trial in a new run)
    assert stopped_while_resuming(config, tmp_path) == 1
    assert [r.name for r in (tmp_path / "storage" / "camp").glob("run-*")] == ["run-1"]
    assert not list(records.glob("*_rbrl_*"))

    # 2) run again: the recorded trial is skipped, the other finishes
    again = campaign(config, tmp_path, "--tiers", "A")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "skipping 1 finished trials" in again.stdout
    assert first.read_bytes() == first_bytes
    files = sorted(records.glob("*.json"))
    assert len(files) == 2
    for path in files:
        record = _strict(path.read_text())
        steps = [row["env_runners/num_env_steps_sampled_lifetime"] for row in record["iterations"]]
        assert steps == [1000, 2000, 3000]
        assert record["iterations"][-1]["evaluation/env_runners/episode_return_mean"] > 0
        assert record["tiers"] == ["A"] and record["spec"]["timesteps"] == 3000
        # what made it
        assert record["version"] == 2 and len(record["source"]["commit"]) == 40
        assert record["packages"]["ray"] == "2.60.0" and record["packages"]["mujoco"]
        assert record["adam"] == "foreach" and record["sampler"] == "lean"
        assert record["trials_beside"] == 0  # --max-concurrent 1, then one trial left
        assert record["restarts"]["rating_service"] == []
        assert all(0 < i < 3 for i in record["restarts"]["tune"])  # a kill: from a checkpoint
        # the start log holds every start, the resumed runs' included
        starts = record["restarts"]["starts"]
        assert starts[0] == 0 and set(record["restarts"]["tune"]) <= set(starts[1:])
        if path.read_bytes() == first_bytes:  # it ran once, from start to end
            assert starts == [0]
        # Tune's timestamps are whole seconds: wall time is good to a second per run
        runs = 1 + len(record["restarts"]["tune"])
        assert record["wall_s"] + runs >= record["tune_time_total_s"] > 0
        for row in record["iterations"]:
            assert row["policy/approx_kl"] >= 0 and row["policy/action_std"] > 0
        if record["spec"]["method"] == "ours":
            assert sum(record["rating_histogram"]) == 20
            # iteration 1 trains on the exploration reward, 2 and 3 on the reward model
            first, *later = record["iterations"]
            assert -1 <= first["exploration/pearson_true"] <= 1
            assert first["reward_model/pearson_true"] is None
            for row in later:
                assert -1 <= row["reward_model/pearson_true"] <= 1
                assert row["exploration/pearson_true"] is None
            assert all(row["train_reward/std"] > 0 for row in record["iterations"])

    # 3) and once more: nothing left, nothing started
    done = campaign(config, tmp_path, "--tiers", "A")
    assert done.returncode == 0 and "skipping 2 finished trials" in done.stdout
    assert "0 trials left" in done.stdout
    planned = _strict((records.parent / "plan.json").read_text())["trials"]
    in_a = [t["key"] for t in planned if "A" in t["tiers"]]
    assert sorted(in_a) == sorted(p.stem for p in files)

    # a recorded trial's spec and seed give its first iterations again, exactly (`ours`:
    # its path holds everything `ppo`'s does, plus ratings, fits and relabelling)
    (path,) = [p for p in files if "_ours_" in p.name]
    check = campaign(config, tmp_path, "--rerun", path.stem, "--rerun-iterations", "2")
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    assert f"{path.stem}: reproduced exactly" in check.stdout
    wrong = campaign(config, tmp_path, "--rerun", "cartpole-balance_ppo_s9_00000000")
    assert wrong.returncode == 2 and "no record 'cartpole-balance_ppo_s9_00000000'" in wrong.stderr

    # the report reads the records alone
    out = tmp_path / "report"
    report = subprocess.run(
        [sys.executable, "-m", "rbrl_ray.report", str(records.parent), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    assert "ours" in report.stdout and "ppo" in report.stdout
    page = (out / "RESULTS.md").read_text()
    assert "## The paper's claims" in page and "Ours can match or beat PPO" in page
    assert "(A = ours, B = ppo) | cartpole-balance, 3 cl." in page  # one seed each: no p
    assert (out / "curves_cartpole-balance.png").stat().st_size > 0
    # the plan's one trial left: tier B's, stopped before it started
    assert "- tier B: cartpole-balance, rbrl, 3 classes, 3,000 steps: seeds [0] not" in page


def test_the_report_lists_the_planned_trials_without_a_record(tmp_path):
    config = write_campaign(
        tmp_path, {"A": tier(["ppo", "ours"], seeds=2), "C": tier(["ours"], classes=[2])}
    )
    trials = load_campaign(config).trials
    done = next(t for t in trials if t.spec.method == "ppo" and t.spec.seed == 0)
    curve = pd.DataFrame({"steps": [1000, 2000], "true_return": [1.0, 2.0]})
    recorded = Trial(tmp_path / f"{done.key}.json", done.spec, curve)
    notes = missing([recorded], plan(trials)["trials"])
    assert set(notes) == {
        "tier A: cartpole-balance, ppo, 2,000 steps: seeds [1] not recorded yet",
        "tier A: cartpole-balance, ours, 3 classes, 2,000 steps: seeds [0, 1] not recorded yet",
        "tier C: cartpole-balance, ours, 2 classes, 2,000 steps: seeds [0] not recorded yet",
    }
    # without a plan: the cells found, short of the seeds seen elsewhere (none here)
    assert missing([recorded]) == []


def test_record_keys_ignore_speed_only_settings_and_follow_the_rest():
    from rbrl_ray.campaign.config import trial_key
    from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec

    def key(**ppo):
        p = PPO_PRESETS["paper"].model_copy(update=ppo)
        return trial_key(ExperimentSpec(env="cartpole-balance", method="ppo", seed=0, ppo=p))

    assert key(sampler="lean") == key(sampler="rllib")
    assert key(lr=1e-4) != key()
    assert key(env_runner_cpus=0.5) != key() == key(env_runner_cpus=1.0)
    assert key(adam="fused") != key(adam="foreach")
    # every committed record still has the key its spec gives today
    records = sorted((REPO / "results/campaign/trials").glob("*.json"))
    assert records
    for path in records:
        spec = ExperimentSpec.from_stored(json.loads(path.read_text())["spec"])
        assert trial_key(spec) == path.stem
    # ... and the campaign still asks for every one of them (its Adam kernel is pinned)
    campaign = load_campaign(REPO / "tune_configs/campaign.yaml")
    assert {p.stem for p in records} <= {t.key for t in campaign.trials}


def test_a_trial_tune_resumes_after_its_record_keeps_the_first_record(tmp_path, capsys):
    from types import SimpleNamespace

    from rbrl_ray.campaign.config import trial_key
    from rbrl_ray.campaign.records import record_path
    from rbrl_ray.campaign.runner import RecordWriter
    from rbrl_ray.experiment import ExperimentSpec
    from rbrl_ray.rllib.ppo import RatingPPOConfig

    spec = ExperimentSpec(env="cartpole-balance", method="ppo", seed=0, timesteps=1000)
    path = record_path(tmp_path, trial_key(spec))
    path.parent.mkdir(parents=True)
    path.write_text('{"first": true}')
    # the trial completed once more after a resume (Tune's state predated its end)
    trial = SimpleNamespace(config=RatingPPOConfig.from_spec(spec).to_dict(), local_path=tmp_path)
    RecordWriter(tmp_path, {}).on_trial_complete(0, [], trial)
    assert path.read_text() == '{"first": true}'
    assert "already has a record; kept it" in capsys.readouterr().out


def test_a_run_this_version_cannot_restore_is_refused_in_one_line(tmp_path):
    from ray import cloudpickle

    from rbrl_ray.experiment import ExperimentSpec
    from rbrl_ray.rllib.ppo import RatingPPOConfig
    from rbrl_ray.sweep.tuner import check_restorable, restored_tuner
    from rbrl_ray.validation import ConfigError

    spec = ExperimentSpec(env="cartpole-balance", method="ppo", seed=0, timesteps=1000)
    good = RatingPPOConfig.from_spec(spec).to_dict()
    (tmp_path / "trial_a").mkdir()
    (tmp_path / "trial_a" / "params.pkl").write_bytes(cloudpickle.dumps(good))
    check_restorable(tmp_path)  # a run this version stored restores
    bad = {**good, "num_envs_per_env_runner": 3}  # a setting its spec owns, changed
    (tmp_path / "trial_b").mkdir()
    (tmp_path / "trial_b" / "params.pkl").write_bytes(cloudpickle.dumps(bad))
    with pytest.raises(ConfigError) as err:
        restored_tuner(str(tmp_path))  # refused before Tune could restart the run
    message = str(err.value)
    assert "trial_b cannot be restored" in message and "\n" not in message


def test_a_run_holds_every_trial_of_its_manifest_once_tune_can_resume_it(tmp_path):
    from rbrl_ray.campaign.runner import MANIFEST, run_keys
    from rbrl_ray.jsonio import write_json

    run = tmp_path / "run-3"
    write_json(run / MANIFEST, ["a_ppo_s0_00000000", "b_ours_c3_s1_11111111"])
    # killed before Tune saved its state: nothing can resume these, so a new run may
    assert run_keys(run) == set()
    (run / "tuner.pkl").write_bytes(b"")  # what Tuner.can_restore looks for
    assert run_keys(run) == {"a_ppo_s0_00000000", "b_ours_c3_s1_11111111"}
    (run / MANIFEST).write_text('["a_ppo_s0')
    with pytest.raises(DamagedFile, match="damaged campaign run manifest"):
        run_keys(run)


def _finished_run_trial(folder: Path, record: dict):
    """A Tune result of a finished trial, rebuilt from a committed record's iterations."""
    from types import SimpleNamespace

    from rbrl_ray.rllib.keys import SPEC_KEY

    folder.mkdir(parents=True)
    rows = "\n".join(json.dumps(row) for row in record["iterations"])
    (folder / "result.json").write_text(rows + "\n")
    return SimpleNamespace(config={"learner_config_dict": {SPEC_KEY: record["spec"]}}, path=folder)


def test_a_finished_trial_the_yaml_no_longer_asks_for_gets_no_record(tmp_path):
    """A pilot moved out of trials/ (its env's range changed since) is not recorded
    again when its run ends or resumes; a planned trial of the same run is."""
    from rbrl_ray.campaign.runner import record_finished

    committed = REPO / "results" / "campaign"
    pilot = json.loads((committed / "pilots" / "cheetah-run_ours_c3_s0_54b849f1.json").read_text())
    planned = json.loads(
        (committed / "trials" / "finger-spin_ours_c3_s0_f3999ca7.json").read_text()
    )
    results = [_finished_run_trial(tmp_path / "run" / r["key"], r) for r in (pilot, planned)]
    records = tmp_path / "records"

    record_finished(results, records, load_campaign(REPO / "tune_configs" / "campaign.yaml"))

    assert sorted(p.name for p in (records / "trials").iterdir()) == [f"{planned['key']}.json"]
    again = json.loads((records / "trials" / f"{planned['key']}.json").read_text())
    assert again["tiers"] == ["H"]
    # the v1 record's metrics, as they were (a v2 record keeps more per iteration)
    kept = [
        {k: row[k] for k in old}
        for row, old in zip(again["iterations"], planned["iterations"], strict=True)
    ]
    assert kept == planned["iterations"]


def test_restarts_and_wall_time_come_from_every_row_tune_wrote():
    from rbrl_ray.campaign.records import service_restarts, tune_restores, wall_seconds

    def row(iteration, since_restore, timestamp, seconds=10.0, service=0):
        return {"training_iteration": iteration, "iterations_since_restore": since_restore,
                "timestamp": timestamp, "time_this_iter_s": seconds,
                "rating/service_restarts": service}  # fmt: skip

    # iterations 1-3, killed; restored from the checkpoint at 2 (3 is made again), 3-4
    written = [row(1, 1, 110), row(2, 2, 120, service=1), row(3, 3, 130, service=1),
               row(3, 1, 500, service=1), row(4, 2, 512, service=2)]  # fmt: skip
    assert tune_restores(written) == [2]
    assert service_restarts(written) == [2, 4]
    assert wall_seconds(written) == (130 - 110 + 10) + (512 - 500 + 10)
    assert wall_seconds([{**written[0], "timestamp": None}]) is None


def test_every_shipped_campaign_loads_and_alpha_k_varies_alpha_and_k():
    keys = set()
    for name in ("campaign.yaml", "campaign_v2.yaml", "alpha_k.yaml"):
        campaign = load_campaign(REPO / "tune_configs" / name)
        assert campaign.trials, name
        keys |= {t.key for t in campaign.trials}
    alpha_k = load_campaign(REPO / "tune_configs" / "alpha_k.yaml")
    settings = {
        (t.spec.reward_model.alpha, t.spec.reward_model.k, t.spec.seed) for t in alpha_k.trials
    }
    assert settings == {(a, k, s) for a in (0.1, 1, 10) for k in (10, 30) for s in range(3)}
    assert len({t.key for t in alpha_k.trials}) == 18  # a record per setting and seed


def test_a_varied_campaigns_plan_names_each_missing_trials_settings():
    from rbrl_ray.campaign.records import plan
    from rbrl_ray.report.summary import missing

    campaign = load_campaign(REPO / "tune_configs" / "alpha_k.yaml")
    planned = plan(campaign.trials, ["reward_model.alpha", "reward_model.k"])["trials"]
    assert planned[0]["varied"] == {"reward_model.alpha": 0.1, "reward_model.k": 10.0}
    notes = missing([], planned)
    assert len(notes) == 6  # one per setting, its three seeds
    assert "reward_model.alpha=10.0, reward_model.k=30.0: seeds [0, 1, 2] not recorded" in (
        "\n".join(notes)
    )
