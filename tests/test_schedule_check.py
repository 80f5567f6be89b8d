"""The page names the trials whose ratings ran ahead of their schedule (a restore that
took an interrupted attempt's later ratings at once), from the records alone."""

import json
import shutil
from pathlib import Path

from rbrl_ray.report.schedule_check import first_ahead, scheduled_ratings
from rbrl_ray.report.trials import load_trials
from rbrl_ray.report.writer import write_report

REPO = Path(__file__).resolve().parent.parent
V1, V2 = REPO / "results" / "campaign", REPO / "results" / "campaign_v2"


def test_the_schedule_counts_the_queries_due_by_a_step():
    (trial, *_) = [t for t in load_trials(V2).trials if t.spec.learns_reward]
    spec = trial.spec  # 200 ratings every 20,000 steps from 32,000; 2,000 in all
    counts = [scheduled_ratings(spec, s) for s in (16_000, 32_000, 48_000, 52_000, 80_000)]
    assert counts == [0, 200, 200, 400, 600]
    assert scheduled_ratings(spec, 1_000_000) == 2_000
    held = trial.curve.dropna(subset=["ratings"])
    assert first_ahead(trial) is None and len(held) > 10


def test_superseded_records_and_only_they_ran_ahead_of_their_schedule(tmp_path):
    superseded = sorted((V2 / "superseded").glob("*.json"))
    assert len(superseded) == 5
    folder = tmp_path / "v2"
    (folder / "trials").mkdir(parents=True)
    for record in superseded:
        shutil.copy(record, folder / "trials")
    for trial in load_trials(folder).trials:
        steps, held, asked = first_ahead(trial)
        assert held > asked, trial.path.name
    # every record the campaigns' pages read besides v1's four: on schedule
    flagged = [t.path.stem for t in load_trials(V1).trials if first_ahead(t) is not None]
    assert len(flagged) == 4
    assert all(first_ahead(t) is None for t in load_trials(V2).trials)
    page = (V1 / "RESULTS.md").read_text()
    line = next(x for x in page.splitlines() if x.startswith("- Ratings ahead of the schedule"))
    assert line.count("ratings where the schedule had asked for") == 4


def test_the_page_names_a_record_ahead_of_its_schedule_and_counts_superseded_ones(tmp_path):
    source = next((V2 / "trials").glob("cartpole-balance_ours_c3_s1_*.json"))
    folder = tmp_path / "camp"
    (folder / "trials").mkdir(parents=True)
    (folder / "superseded").mkdir()
    shutil.copy(source, folder / "superseded")
    record = json.loads(source.read_text())
    write = folder / "trials" / source.name
    write.write_text(json.dumps(record))
    write_report(folder, folder)
    page = (folder / "RESULTS.md").read_text()
    assert "- Ratings on schedule: none of the 1 trials" in page
    assert "- Superseded: 1 record moved to `superseded/` and rerun" in page

    row = next(r for r in record["iterations"] if r["rating/num_ratings"] == 400)
    row["rating/num_ratings"] = 1_000  # as a restore that took later ratings at once
    write.write_text(json.dumps(record))
    write_report(folder, folder)
    page = (folder / "RESULTS.md").read_text()
    steps = int(row["env_runners/num_env_steps_sampled_lifetime"])
    assert (
        "- Ratings ahead of the schedule in 1 of 1 trials that learn from ratings" in page
        and f"cartpole-balance ours c3 s1 (at {steps:,} steps: 1,000 ratings where the "
        "schedule had asked for 400)"
        in page
    )
