"""A campaign beside the campaigns it revisits, and the reading of its records.

`report.yaml` in a campaign's folder (optional) names the earlier campaigns whose
shape, verdicts and final returns RESULTS.md sets beside this one's, and a
hand-written notes file the page links to:

    earlier: [../campaign]   # folders, relative to this campaign's
    notes: ANALYSIS.md       # a file in this folder
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import Field, ValidationError

from rbrl_ray.methods import METHODS
from rbrl_ray.report.claims import CLAIMS, Finals, compare, verdict
from rbrl_ray.report.trials import Trial, is_campaign, load_trials
from rbrl_ray.sweep.grid import read_yaml
from rbrl_ray.validation import ConfigError, StrictModel, error_line

OPTIONS_FILE = "report.yaml"


class ReportOptions(StrictModel):
    earlier: list[str] = Field(
        default_factory=list, description="campaign folders this one revisits (relative)"
    )
    notes: str | None = Field(None, description="a markdown reading of the records, here")


def load_options(folder: Path) -> ReportOptions:
    """The campaign's report options (none: the defaults); ConfigError on a bad file."""
    path = folder / OPTIONS_FILE
    if not path.exists():
        return ReportOptions()
    try:
        options = ReportOptions.model_validate(read_yaml(path))
    except ValidationError as err:
        raise ConfigError(f"{path}: {error_line(err, ReportOptions)}") from None
    for earlier in options.earlier:
        if not is_campaign(folder / earlier):
            raise ConfigError(
                f"{path}: earlier {earlier!r} is not a campaign folder (expected "
                "trials/*.json beside it)"
            )
    if options.notes is not None and not (folder / options.notes).is_file():
        raise ConfigError(f"{path}: notes {options.notes!r}: no such file in {folder}")
    return options


def notes_lines(options: ReportOptions) -> list[str]:
    if options.notes is None:
        return []
    return [
        "## Reading the records",
        "",
        f"What the per-iteration metrics explain (the reward methods' dip, late "
        f"collapses), written by hand from the records: [{options.notes}]({options.notes}).",
        "",
    ]


def _verdicts(finals: Finals) -> dict[str, str]:
    return {c.text: verdict(c, compare(finals, c.a, c.b)).text for c in CLAIMS}


def _shape(trials: list[Trial]) -> str:
    """'304,000 steps, ratings to 70 % of the run, seeds 0-4' (the most common shape)."""
    steps = max(t.steps for t in trials)  # as run: whole iterations past the budget
    rated = [t.spec.schedule for t in trials if t.spec.learns_reward]
    seeds = sorted({t.spec.seed for t in trials})
    shape = f"{steps:,} steps"
    if rated:
        last = max(s.query_step(s.queries - 1) for s in rated)
        shape += f", ratings until {last / steps:.0%} of the run"
    return f"{shape}, seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else shape


def _finals_row(finals: Finals, key: tuple) -> str:
    values = list(finals.get(key, {}).values())
    if not values:
        return "–"
    mean = sum(values) / len(values)
    return f"{mean:.1f} ({len(values)})"


def earlier_lines(
    folder: Path,
    trials: list[Trial],
    options: ReportOptions,
    finals_of: Callable[[list[Trial]], Finals],
) -> list[str]:
    """The section setting each earlier campaign beside this one: verdicts per claim,
    then the mean final measure (seeds) per cell both ran. `finals_of` maps trials to
    their Finals (the page's own measure)."""
    now = [t for t in trials if t.finished]
    if not options.earlier or not now:
        return []
    lines = ["## Beside the earlier campaigns", ""]
    finals_now = finals_of(now)
    for name in options.earlier:
        then = [t for t in load_trials(folder / name).trials if t.finished]
        finals_then = finals_of(then)
        label = (folder / name).resolve().name
        lines += [
            f"Campaign `{label}` ([{name}/RESULTS.md]({name}/RESULTS.md)): {_shape(then)}; "
            f"this one: {_shape(now)}. The same claims, tests and final measure, read off "
            "each campaign's own records; each verdict is over that campaign's own cells "
            "(its envs and class counts):",
            "",
            f"| claim | `{label}` | this campaign |",
            "|---|---|---|",
        ]
        old, new = _verdicts(finals_then), _verdicts(finals_now)
        lines += [f"| {c.text} | {old[c.text]} | {new[c.text]} |" for c in CLAIMS
                  if (old[c.text], new[c.text]) != ("not measured", "not measured")]  # fmt: skip
        shared = sorted(set(finals_then) & set(finals_now), key=str)
        if shared:
            lines += [
                "",
                f"Final measure per cell both ran, mean (seeds): `{label}` → this campaign.",
                "",
                "| env | classes | method | " + f"`{label}` | this campaign |",
                "|---|---:|---|---:|---:|",
            ]
            for env, classes, method in shared:
                count = "–" if classes is None else str(classes)
                lines.append(
                    f"| {env} | {count} | {METHODS[method].label} | "
                    f"{_finals_row(finals_then, (env, classes, method))} | "
                    f"{_finals_row(finals_now, (env, classes, method))} |"
                )
        lines.append("")
    return lines
