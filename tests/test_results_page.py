"""RESULTS.md built from committed campaign records: the ratings' ranges and the pilots."""

import json
import shutil
from pathlib import Path

from rbrl_ray.report.writer import write_report

REPO = Path(__file__).resolve().parent.parent
RECORDS = REPO / "results" / "campaign"
PILOT = "cheetah-run_ours_c3_s0_54b849f1.json"  # rated 1917 / 81 / 2 at [0.222, 9.871]
TRIAL = "finger-spin_ours_c3_s0_f3999ca7.json"  # rated 1704 / 158 / 138 at [2.0, 13.2]


def _campaign(tmp_path: Path, *records: str) -> Path:
    """A campaign folder holding copies of these committed trial records."""
    campaign = tmp_path / "campaign"
    (campaign / "trials").mkdir(parents=True)
    for name in records:
        shutil.copy(RECORDS / "trials" / name, campaign / "trials")
    return campaign


def test_pilots_are_listed_with_their_range_and_enter_no_result(tmp_path):
    campaign = _campaign(tmp_path, TRIAL)
    (campaign / "pilots").mkdir()
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
    campaign = _campaign(tmp_path, TRIAL)
    write_report(campaign, campaign)
    assert "Rating-range pilots" not in (campaign / "RESULTS.md").read_text()


def _late_pearson(record: Path) -> float:
    """The mean r(r̂, r) over the last quarter of a record's env steps, from its JSON."""
    rows = json.loads(record.read_text())["iterations"]
    steps = [r["env_runners/num_env_steps_sampled_lifetime"] for r in rows]
    late = [r["reward_model/pearson_true"] for r, s in zip(rows, steps, strict=True)
            if s >= 0.75 * max(steps) and "reward_model/pearson_true" in r]  # fmt: skip
    return sum(late) / len(late)


def test_ours_and_rbrl_reward_models_are_compared_on_their_late_correlation(tmp_path):
    names = {"ours": ["cartpole-balance_ours_c3_s0_1ff5f799.json",
                      "cartpole-balance_ours_c3_s1_8d7ada55.json"],
             "rbrl": ["cartpole-balance_rbrl_c3_s0_f1e633f6.json",
                      "cartpole-balance_rbrl_c3_s2_193186e7.json"]}  # fmt: skip
    campaign = _campaign(tmp_path, *names["ours"], *names["rbrl"])
    late = {m: [_late_pearson(RECORDS / "trials" / n) for n in ns] for m, ns in names.items()}
    mean = {m: sum(values) / len(values) for m, values in late.items()}

    result = write_report(campaign, campaign)

    page = (campaign / "RESULTS.md").read_text()
    line = next(x for x in page.splitlines() if x.startswith("- cartpole-balance, 3 classes:"))
    assert line.startswith(
        f"- cartpole-balance, 3 classes: {mean['ours']:.3f} vs {mean['rbrl']:.3f}, "
        f"{mean['ours'] - mean['rbrl']:+.3f} ["
    )
    assert line.endswith("(seeds 2/2)")
    assert mean["ours"] > mean["rbrl"] + 0.1  # these seeds: ours' reward model is the closer
    assert "reward_vs_return.png" in result["figures"]
    assert (campaign / "reward_vs_return.png").stat().st_size > 10_000


def test_without_rbrl_trials_no_reward_model_comparison_is_claimed(tmp_path):
    campaign = _campaign(tmp_path, TRIAL)
    write_report(campaign, campaign)
    assert "Ours − RbRL in r(r̂, r)" not in (campaign / "RESULTS.md").read_text()
    assert (campaign / "reward_vs_return.png").exists()


def test_the_page_says_which_observation_normalisation_its_records_ran_with(tmp_path):
    """The v1 records ran with RLlib's drifting merge of EnvRunner statistics; a record
    made with the pooled merge says so instead, and the caveat goes."""
    campaign = _campaign(tmp_path, TRIAL)
    write_report(campaign, campaign)
    page = (campaign / "RESULTS.md").read_text()
    assert "merged across EnvRunners RLlib 2.60's way" in page
    assert "(1 of 1 trials)" in page and "with that difference in mind" in page

    record = json.loads((campaign / "trials" / TRIAL).read_text())
    record["spec"]["ppo"]["filter_merge"] = "pooled"
    (campaign / "trials" / TRIAL).write_text(json.dumps(record))
    write_report(campaign, campaign)
    page = (campaign / "RESULTS.md").read_text()
    assert "running mean/std of every observation, pooled across EnvRunners" in page
    assert "with that difference in mind" not in page


def test_a_v1_records_exploration_correlation_is_kept_apart_from_the_reward_models():
    from rbrl_ray.report.trials import curve_frame

    # v1 logged the exploration reward's r under r(r̂, r): iterations 1-2 trained on it
    # (the first model, published at the end of iteration 2, reached the learner in 3)
    rows = [
        {"env_runners/num_env_steps_sampled_lifetime": 16000 * (i + 1),
         "reward_model/version": version, "reward_model/pearson_true": r}
        for i, (version, r) in enumerate([(0, -0.4), (1, -0.3), (1, 0.5), (2, 0.8)])
    ]  # fmt: skip
    frame = curve_frame(rows)
    assert frame["explore_pearson_true"].tolist()[:2] == [-0.4, -0.3]
    assert frame["pearson_true"].isna().tolist() == [True, True, False, False]
    # v2 logs both apart: nothing is moved
    rows[0]["exploration/pearson_true"] = -0.4
    rows[0]["reward_model/pearson_true"] = None
    assert curve_frame(rows)["pearson_true"].tolist()[1] == -0.3


def test_the_page_lists_the_commits_behind_each_tier_and_what_format_1_lacks(tmp_path):
    campaign = _campaign(tmp_path, TRIAL)
    old = json.loads((RECORDS / "trials" / TRIAL).read_text())
    new = {
        **old, "version": 2, "key": "finger-spin_ours_c3_s1_00000000", "tiers": ["T1"],
        "spec": {**old["spec"], "seed": 1},
        "source": {"commit": "7f97bee21caed924a561f1c0cbee4daf11ddb3a5", "dirty": False,
                   "from": "git archive"},
        "packages": {"ray": "2.60.0", "torch": "2.13.0+cpu"},
        "restarts": {"tune": [12], "rating_service": []}, "trials_beside": 1,
    }  # fmt: skip
    (campaign / "trials" / f"{new['key']}.json").write_text(json.dumps(new))

    write_report(campaign, campaign)

    page = (campaign / "RESULTS.md").read_text()
    section = page.split("## Provenance")[1].split("## The paper's claims")[0]
    assert "- Tier H: source not recorded (record format 1) × 1." in section
    assert "- Tier T1: source `7f97bee21c` (git archive) × 1." in section
    assert "- Packages (1 records): ray 2.60.0, torch 2.13.0+cpu." in section
    assert "1 restored by Tune, 0 replaced a dead rating service" in section
    assert "at the same time as one: 1 (1 records)." in section
    assert "exploration reward until 48,000" in section  # v1's first fit ran in the background


def test_across_tasks_scores_every_main_method_on_the_same_envs(tmp_path):
    walker = sorted(p.name for p in (RECORDS / "trials").glob("walker-walk_*.json"))
    campaign = _campaign(tmp_path, TRIAL, *walker)  # finger-spin: ours only

    write_report(campaign, campaign)

    page = (campaign / "RESULTS.md").read_text()
    section = page.split("## Across tasks")[1].split("## Final evaluation return")[0]
    assert "ran (walker-walk), so every method is scored on the same tasks" in section
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    table = section.split("| X vs Y |")[0]
    iqm = {r.split("|")[1].strip(): r for r in rows if r in table and "---" not in r}
    del iqm["method"]  # the header
    assert set(iqm) == {"PPO (env reward)", "RbRL", "Ours"}
    assert all("| 3 |" in r for r in iqm.values())  # finger-spin's run stays out
    assert any(r.startswith("| Ours vs RbRL |") for r in rows)
    assert (campaign / "performance_profile.png").stat().st_size > 0


def test_records_with_the_reward_trained_on_get_its_figure_and_older_ones_do_not(tmp_path):
    """v2 records log r̂ on the policy's batches: a figure per env explains a dip; v1
    records (format 1) do not, and their page stays as it was."""
    v2 = REPO / "results" / "campaign_v2" / "trials"
    campaign = tmp_path / "v2"
    (campaign / "trials").mkdir(parents=True)
    for record in v2.glob("cartpole-balance_*.json"):
        shutil.copy(record, campaign / "trials")
    result = write_report(campaign, campaign)
    figure = "reward_on_policy_cartpole-balance.png"
    assert figure in result["figures"] and (campaign / figure).stat().st_size > 10_000
    assert f"]({figure})" in (campaign / "RESULTS.md").read_text()
    old = _campaign(tmp_path, "cartpole-balance_ours_c3_s0_1ff5f799.json")
    assert not any(n.startswith("reward_on_policy") for n in write_report(old, old)["figures"])


def test_a_one_method_campaign_claims_nothing_and_draws_no_paper_figure(tmp_path):
    """Fig. 2 and 3 compare methods or class counts; with one method at one count they
    would show one point a panel, and every claim would read 'not measured'."""
    campaign = _campaign(tmp_path, TRIAL)
    write_report(campaign, campaign)
    page = (campaign / "RESULTS.md").read_text()
    claims = page.split("## The paper's claims")[1].split("##")[0]
    assert claims.strip() == "Not measured: each claim compares two methods; these trials ran Ours."
    for figure in ("fig2_methods.png", "fig3_ablation.png"):
        assert not (campaign / figure).exists() and figure not in page


def test_a_varied_campaign_says_its_cells_pool_the_settings_it_varied(tmp_path):
    """alpha_k's records: one seed at two settings of alpha and k; no claim is read off
    cells that mix settings, and the tables say what they pool."""
    campaign = tmp_path / "alpha_k"
    (campaign / "trials").mkdir(parents=True)
    for record in sorted((REPO / "results" / "alpha_k" / "trials").glob("*_s0_*.json"))[:2]:
        shutil.copy(record, campaign / "trials")
    write_report(campaign, campaign)
    page = (campaign / "RESULTS.md").read_text()
    claims = page.split("## The paper's claims")[1].split("##")[0]
    assert claims.strip().startswith("Not measured: the trials vary `reward_model.")
    finals = page.split("## Final evaluation return")[1].split("##")[0]
    assert "Each cell pools every value of `reward_model." in finals
    assert "| 3 | " in finals and "(2) |" in finals  # two trials of one seed, pooled


def _evaluations(record: Path) -> list[tuple[int, float]]:
    """(env steps, evaluation return) of a record's evaluated iterations, from its JSON."""
    rows = json.loads(record.read_text())["iterations"]
    steps, evaluation = (
        "env_runners/num_env_steps_sampled_lifetime",
        "evaluation/env_runners/episode_return_mean",
    )
    return [(r[steps], r[evaluation]) for r in rows if r.get(evaluation) is not None]


def test_summary_and_fig2_use_the_tables_final_measure_not_the_last_evaluation(tmp_path):
    """A 1M-step record has three evaluations in its last 20 %: summary.csv (and Fig. 2,
    drawn from it) average them as the tables do, rather than take the last one."""
    v2 = REPO / "results" / "campaign_v2" / "trials"
    records = sorted(v2.glob("walker-walk_ppo_s[01]_*.json"))
    campaign = tmp_path / "v2"
    (campaign / "trials").mkdir(parents=True)
    for record in records:
        shutil.copy(record, campaign / "trials")
    windows, lasts = [], []
    for record in records:
        evaluations = _evaluations(record)
        end = max(s for s, _ in evaluations)
        late = [v for s, v in evaluations if s >= 0.8 * end]
        assert len(late) == 3
        windows.append(sum(late) / len(late))
        lasts.append(evaluations[-1][1])
    expected, last = sum(windows) / 2, sum(lasts) / 2
    assert abs(expected - last) > 5  # the two measures differ on these records

    result = write_report(campaign, campaign)

    row = result["summary"].set_index("method").loc["ppo"]
    assert abs(row["eval_mean"] - expected) < 1e-9
    table = (campaign / "RESULTS.md").read_text().split("## Final evaluation return")[1]
    assert f" | {expected:.1f} ± " in table  # ppo alone: no class count


def test_the_reward_model_table_shows_the_learned_rewards_scale_on_the_policys_batches(
    tmp_path,
):
    """cheetah-run's r̂ sits at its top (+1) late in training: the table says so, from
    the records' per-iteration train_reward metrics; v1 records, without them, show '–'."""
    record = next((REPO / "results" / "campaign_v2" / "trials").glob("cheetah-run_ours_c3_s0_*"))
    rows = json.loads(record.read_text())["iterations"]
    end = rows[-1]["env_runners/num_env_steps_sampled_lifetime"]
    late = [r for r in rows if r["env_runners/num_env_steps_sampled_lifetime"] >= 0.75 * end]
    mean = sum(r["train_reward/mean"] for r in late) / len(late)
    std = sum(r["train_reward/std"] for r in late) / len(late)
    assert mean > 0.95  # saturated
    campaign = tmp_path / "v2"
    (campaign / "trials").mkdir(parents=True)
    shutil.copy(record, campaign / "trials")
    write_report(campaign, campaign)
    page = (campaign / "RESULTS.md").read_text()
    row = next(line for line in page.splitlines() if line.startswith("| cheetah-run | Ours |"))
    assert row.split(" | ")[4:6] == [f"{mean:.3f}", f"{std:.3f}"]
    old = _campaign(tmp_path, TRIAL)
    write_report(old, old)
    v1 = (old / "RESULTS.md").read_text()
    row = next(line for line in v1.splitlines() if line.startswith("| finger-spin | Ours |"))
    assert row.split(" | ")[4:6] == ["–", "–"]


def test_a_saturated_learned_reward_is_listed_and_marked_in_the_claims(tmp_path):
    """cheetah-run in campaign v2: r̂ sits at +1 late, below the ceiling; walker-walk's
    does not. The page lists the saturated cells and marks the claims' cells on them."""
    v2 = REPO / "results" / "campaign_v2" / "trials"
    campaign = tmp_path / "v2"
    (campaign / "trials").mkdir(parents=True)
    for pattern in ("cheetah-run_*_s[01]_*.json", "walker-walk_*_s[01]_*.json"):
        for record in v2.glob(pattern):
            shutil.copy(record, campaign / "trials")
    write_report(campaign, campaign)
    page = (campaign / "RESULTS.md").read_text()
    section = page.split("## Reward models")[1].split("\n## ")[0]
    listed = [line for line in section.splitlines() if line.startswith("- ") and "r̂ mean" in line]
    assert [line.split(":")[0] for line in listed] == [
        "- cheetah-run, 3 classes, Ours", "- cheetah-run, 3 classes, RbRL"]  # fmt: skip
    claims = page.split("## The paper's claims")[1].split("\n## ")[0]
    cells = [c for c in claims.replace("|", "<br>").split("<br>") if "3 cl.:" in c]
    marked = {c.split(",")[0].strip() for c in cells if "learned reward saturated" in c}
    assert marked == {"cheetah-run"} and any(c.strip().startswith("walker-walk") for c in cells)
