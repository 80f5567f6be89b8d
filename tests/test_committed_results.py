"""Every committed RESULTS.md is what `python -m rbrl_ray.report` builds today from the
committed records: a change to the report that is not rebuilt into the pages fails here.
(Figures are left out: PNG bytes depend on the fonts and libraries of the machine.)"""

from pathlib import Path

import pytest

from rbrl_ray.report.writer import write_report

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted(p.parent.name for p in (REPO / "results").glob("*/RESULTS.md"))


def test_there_are_committed_pages_to_check():
    assert {"campaign", "campaign_v2", "alpha_k"} <= set(PAGES)


@pytest.mark.parametrize("campaign", PAGES)
def test_a_committed_page_rebuilds_byte_for_byte(campaign, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the page names the command as run from the repository
    folder = Path("results") / campaign
    write_report(folder, tmp_path)
    for name in ("RESULTS.md", "summary.csv"):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), (
            f"{folder / name} is stale: rebuild it with python -m rbrl_ray.report {folder}"
        )
