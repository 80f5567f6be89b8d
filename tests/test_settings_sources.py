"""Where each setting comes from: one table, printed in RESULTS.md with the values the
records ran with, and kept in docs/methods.md for the paper preset."""

from pathlib import Path

from rbrl_ray.experiment import PPO_PRESETS, ExperimentSpec
from rbrl_ray.report.settings import RBRL_DIFFERENCES, settings_lines, settings_table

REPO = Path(__file__).resolve().parent.parent


def _spec(method: str = "ours", **ppo: object) -> ExperimentSpec:
    settings = PPO_PRESETS["paper"].model_copy(update=ppo)
    return ExperimentSpec(env="cartpole-balance", method=method,
                          classes=None if method == "ppo" else 3, seed=0, ppo=settings)  # fmt: skip


def _row(lines: list[str], label: str) -> list[str]:
    row = next(line for line in lines if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_the_docs_table_is_the_one_the_report_prints_for_the_paper_preset():
    doc = (REPO / "docs" / "methods.md").read_text()
    table = "\n".join(settings_table([_spec()], "value (paper preset)"))
    assert table in doc
    assert RBRL_DIFFERENCES in doc


def test_values_come_from_the_records_and_differing_ones_are_counted():
    specs = [_spec(), _spec(lambda_=0.95), _spec(lambda_=0.95)]
    lines = settings_lines(specs)
    assert lines[0] == "## Where the settings come from"
    assert _row(lines, "GAE λ")[1] == "0.92 (1 trials); 0.95 (2 trials)"
    assert _row(lines, "learning rate")[1:] == ["5e-05", "paper, Appendix A; RbRL scripts"]


def test_a_source_speaks_only_for_its_own_value():
    """A faster preset's learning rate is not the paper's: the row says whose it is."""
    _, value, source = _row(settings_lines([_spec(lr=3e-4)]), "learning rate")
    assert value == "0.0003"
    assert source == (
        "for 5e-05: paper, Appendix A; RbRL scripts — other values: this campaign's own setting"
    )
    _, _, mixed = _row(settings_lines([_spec(), _spec(lambda_=0.95)]), "GAE λ")
    assert mixed.startswith("for 0.92: RbRL `train_PPO.py` default")
    assert mixed.endswith(" — other values: this campaign's own setting")


def test_rating_rows_read_only_the_trials_that_learn_from_ratings():
    ppo_only = settings_lines([_spec("ppo")])
    assert _row(ppo_only, "ratings")[1] == "– (no trial learns from ratings)"
    assert _row(ppo_only, "clip range")[1] == "0.4, constant"
    mixed = settings_lines([_spec("ppo"), _spec()])
    assert _row(mixed, "ratings")[1] == "2,000 of 50-step segments"
