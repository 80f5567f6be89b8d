"""A campaign's RESULTS.md beside the campaign it revisits (report.yaml: earlier, notes)."""

import shutil
import subprocess
import sys
from pathlib import Path

from rbrl_ray.report.results import final_measure
from rbrl_ray.report.trials import load_trials
from rbrl_ray.report.writer import write_report

REPO = Path(__file__).resolve().parent.parent
V1 = REPO / "results" / "campaign" / "trials"
V2 = REPO / "results" / "campaign_v2" / "trials"


def _folder(root: Path, name: str, source: Path, pattern: str) -> Path:
    folder = root / name
    (folder / "trials").mkdir(parents=True)
    for record in sorted(source.glob(pattern)):
        shutil.copy(record, folder / "trials")
    return folder


def _mean_final(folder: Path, method: str) -> float:
    finals = [final_measure(t) for t in load_trials(folder).trials if t.spec.method == method]
    return sum(finals) / len(finals)


def test_the_page_sets_verdicts_and_cells_beside_the_earlier_campaign(tmp_path):
    old = _folder(tmp_path, "v1", V1, "cartpole-balance_ppo_s[0-4]_*.json")
    for record in sorted(V1.glob("cartpole-balance_ours_c3_s[0-4]_*.json")):
        shutil.copy(record, old / "trials")
    new = _folder(tmp_path, "v2", V2, "cartpole-balance_ppo_s[01]_*.json")
    # Ours, seeds 0 and 1 (seed 0's first record, superseded since: frozen, as a test needs)
    for record in (V2.parent / "superseded").glob("cartpole-balance_ours_c3_s0_*.json"):
        shutil.copy(record, new / "trials")
    for record in sorted(V2.glob("cartpole-balance_ours_c3_s1_*.json")):
        shutil.copy(record, new / "trials")
    (new / "NOTES.md").write_text("# what the records say\n")
    (new / "report.yaml").write_text("earlier: [../v1]\nnotes: NOTES.md\n")

    write_report(new, new)

    page = (new / "RESULTS.md").read_text()
    section = page.split("## Beside the earlier campaigns")[1].split("\n## ")[0]
    assert "Campaign `v1` ([../v1/RESULTS.md](../v1/RESULTS.md)): 304,000 steps" in section
    assert "this one: 1,008,000 steps, ratings until 21% of the run, seeds 0-1" in section
    claim = next(line for line in section.splitlines() if line.startswith("| Ours can match"))
    assert claim.endswith("| holds only where both are at the ceiling |")
    assert "Learned weights" not in section  # measured by neither: no row
    old_ours, new_ours = _mean_final(old, "ours"), _mean_final(new, "ours")
    assert abs(old_ours - new_ours) > 100  # the two campaigns differ in this cell
    assert f"| cartpole-balance | 3 | Ours | {old_ours:.1f} (5) | {new_ours:.1f} (2) |" in section
    assert "[NOTES.md](NOTES.md)" in page.split("## Reading the records")[1]


def test_without_report_options_the_page_has_neither_section(tmp_path):
    new = _folder(tmp_path, "v2", V2, "cartpole-balance_ppo_s0_*.json")
    write_report(new, new)
    page = (new / "RESULTS.md").read_text()
    assert "## Beside the earlier campaigns" not in page and "## Reading the records" not in page


def _report(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rbrl_ray.report", str(folder)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_bad_report_yaml_is_one_line_exit_2_and_nothing_is_written(tmp_path):
    new = _folder(tmp_path, "v2", V2, "cartpole-balance_ppo_s0_*.json")
    (tmp_path / "not_a_campaign").mkdir()
    cases = {
        "earlier: [../not_a_campaign]\n": "earlier '../not_a_campaign' is not a campaign folder",
        "notes: MISSING.md\n": "notes 'MISSING.md': no such file",
        "earlier: [../v2]\nsee_also: x\n": "see_also",
    }
    for text, message in cases.items():
        (new / "report.yaml").write_text(text)
        run = _report(new)
        assert run.returncode == 2, run.stderr
        assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1
        assert not (new / "RESULTS.md").exists()
