"""Every start of a campaign trial reaches its record: an attempt that died before it
reported leaves no row in result.json, so only the start log
(rbrl_ray/campaign/starts.py) can tell that the trial ran twice."""

import json

import pytest
from ray.tune import Callback

from rbrl_ray.campaign.config import load_campaign
from rbrl_ray.campaign.starts import STARTS_FILE, log_start, logged_starts
from rbrl_ray.report.provenance import provenance_lines
from rbrl_ray.report.trials import load_trials
from tests.campaign_helpers import tier, write_campaign


def test_the_start_log_keeps_order_and_skips_a_line_a_kill_cut_short(tmp_path):
    assert logged_starts(tmp_path) is None  # not run by a campaign that logs starts
    log_start(tmp_path / "trial", 0)
    log_start(tmp_path / "trial", 4)
    with open(tmp_path / "trial" / STARTS_FILE, "a") as out:
        out.write('{"from_iteration": 7, "at"')  # killed mid-write
    log_start(tmp_path / "trial", 0)
    log_start(tmp_path / "trial", None)  # a checkpoint whose iteration Tune did not keep
    assert logged_starts(tmp_path / "trial") == [0, 4, 0, None]


class KillTheFirstAttempt(Callback):
    """Kills the trial's actor as soon as it starts, before it reports anything: the
    real fault a lost node or an OOM kill during setup makes. Tune retries the trial
    from scratch, and result.json holds no row of the dead attempt."""

    def __init__(self) -> None:
        self.killed = False

    def on_trial_start(self, iteration, trials, trial, **info):
        import ray

        if not self.killed:
            self.killed = True
            ray.kill(trial.temporary_state.ray_actor, no_restart=True)


@pytest.mark.slow
def test_a_trial_tune_started_over_from_scratch_says_so_in_its_record(tmp_path, ray_local):
    from rbrl_ray.campaign.runner import run_campaign

    config = write_campaign(tmp_path, {"A": tier(["ppo"], timesteps=1000)})
    campaign = load_campaign(config)
    records = tmp_path / "records" / "camp"
    left = run_campaign(
        campaign, campaign.trials, records, tmp_path / "storage", [KillTheFirstAttempt()], 1
    )
    assert left == []
    (path,) = (records / "trials").glob("*.json")
    record = json.loads(path.read_text())
    assert record["restarts"]["starts"] == [0, 0]  # two starts, both from scratch
    assert record["restarts"]["tune"] == []  # result.json: one uninterrupted run
    steps = [row["env_runners/num_env_steps_sampled_lifetime"] for row in record["iterations"]]
    assert steps == [1000]  # the second attempt's row only
    lines = provenance_lines(load_trials(records).trials, records)
    assert "- Of 1 records that log every start: 1 started over from scratch" in "\n".join(lines)
