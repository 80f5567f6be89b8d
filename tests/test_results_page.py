"""RESULTS.md built from committed campaign records: the ratings' ranges and the pilots."""

import shutil
from pathlib import Path

from rbrl_ray.report.writer import write_report

REPO = Path(__file__).resolve().parent.parent
RECORDS = REPO / "results" / "campaign"
PILOT = "cheetah-run_ours_c3_s0_54b849f1.json"  # rated 1917 / 81 / 2 at [0.222, 9.871]
TRIAL = "finger-spin_ours_c3_s0_f3999ca7.json"  # rated 1704 / 158 / 138 at [2.0, 13.2]


def test_pilots_are_listed_with_their_range_and_enter_no_result(tmp_path):
    campaign = tmp_path / "campaign"
    (campaign / "trials").mkdir(parents=True)
    (campaign / "pilots").mkdir()
    shutil.copy(RECORDS / "trials" / TRIAL, campaign / "trials")
    shutil.copy(RECORDS / "pilots" / PILOT, campaign / "pilots")

    result = write_report(campaign, campaign)

    page = (campaign / "RESULTS.md").read_text()
    assert "from 1 finished trial records" in page
    assert "| finger-spin | 3 | Ours | [2, 13.2] | 85.2 % / 7.9 % / 6.9 % |" in page
    pilots = page.split("## Rating-range pilots")[1].split("## Figures")[0]
    assert "| cheetah-run | 3 | Ours | [0.222, 9.871] | 0 | 95.8 % / 4.0 % / 0.1 % |" in pilots
    assert {t.spec.env for t in result["trials"]} == {"finger-spin"}
    assert "cheetah-run" not in page.split("## Rating-range pilots")[0]


def test_a_campaign_without_pilots_has_no_pilot_section(tmp_path):
    campaign = tmp_path / "campaign"
    (campaign / "trials").mkdir(parents=True)
    shutil.copy(RECORDS / "trials" / TRIAL, campaign / "trials")
    write_report(campaign, campaign)
    assert "Rating-range pilots" not in (campaign / "RESULTS.md").read_text()
