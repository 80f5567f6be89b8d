"""What made a campaign's records, for the page: the shape of its trials, the source
commits behind each tier, the packages, restarts and wall time (records of format 2;
format 1 recorded none of these, and the page says so)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rbrl_ray.report.schedule_check import schedule_lines
from rbrl_ray.report.trials import Trial


def shape_line(trials: list[Trial]) -> list[str]:
    """Where the ratings fall in a trial: the rating phase as a share of the run."""
    shapes = Counter()
    for t in trials:
        if not t.spec.learns_reward:
            continue
        s = t.spec.schedule
        last = s.query_step(s.queries - 1)
        # a first fit in the background left the learner on the exploration reward for
        # one more iteration (campaign v1)
        late = s.background_fit and not s.first_fit_blocks
        explored = s.explore_steps + (t.spec.ppo.train_batch_size if late else 0)
        shapes[(s.explore_steps, last, t.steps, explored)] += 1
    if not shapes:
        return []
    parts = [
        f"ratings from {first:,} to {last:,} env steps of {steps:,} (the rating phase ends "
        f"at {last / steps:.0%} of the run; exploration reward until {explored:,}; "
        f"{n} trials that learn from ratings)"
        for (first, last, steps, explored), n in sorted(shapes.items())
    ]
    return [f"- Shape: {'; '.join(parts)}."]


def _commit(t: Trial) -> str:
    source = (t.record or {}).get("source")
    if not source or not source.get("commit"):
        return "not recorded (record format 1)" if source is None else "unknown"
    dirty = ", dirty tree" if source.get("dirty") else ""
    return f"`{source['commit'][:10]}` ({source.get('from')}{dirty})"


def provenance_lines(trials: list[Trial], folder: Path | None = None) -> list[str]:
    """The page's provenance section (empty for Tune folders, which carry no records);
    `folder`: the campaign's, whose superseded records it counts."""
    recorded = [t for t in trials if t.record is not None]
    if not recorded:
        return []
    lines = ["## Provenance", "", *shape_line(recorded)]
    by_tier: dict[str, Counter] = {}
    for t in recorded:
        for tier in t.record.get("tiers") or ["-"]:
            by_tier.setdefault(tier, Counter())[_commit(t)] += 1
    for tier, commits in sorted(by_tier.items()):
        shown = "; ".join(f"{c} × {n}" for c, n in commits.most_common())
        lines.append(f"- Tier {tier}: source {shown}.")
    packages = Counter(
        ", ".join(f"{k} {v}" for k, v in t.record["packages"].items())
        for t in recorded
        if t.record.get("packages")
    )
    for text, n in packages.most_common():
        lines.append(f"- Packages ({n} records): {text}.")
    formatted = [t for t in recorded if t.record.get("version", 1) >= 2]
    if formatted:
        restored = sum(bool(t.record["restarts"]["tune"]) for t in formatted)
        replaced = sum(bool(t.record["restarts"]["rating_service"]) for t in formatted)
        beside = Counter(t.record.get("trials_beside") for t in formatted)
        lines.append(
            f"- Of {len(formatted)} records with restarts recorded: {restored} restored by "
            f"Tune, {replaced} replaced a dead rating service (each record lists the "
            "iterations). The most other trials that ran at the same time as one: "
            + ", ".join(f"{k} ({n} records)" for k, n in sorted(beside.items(), key=str))
            + ". Wall time (`wall_s`) includes the waits for reward-model fits."
        )
        lines.extend(scratch_line(formatted))
    old = len(recorded) - len(formatted)
    if old:
        lines.append(
            f"- {old} records of format 1 carry no commit, packages or restarts, and their "
            "`wall_s` is Tune's `time_total_s`, which leaves out the waits for fits."
        )
    return [*lines, *schedule_lines(recorded, folder), ""]


def scratch_line(records: list[Trial]) -> list[str]:
    """How many trials Tune started over from scratch, among the records that log every
    start (result.json has no row of an attempt that died before it reported); nothing
    where none do."""
    logged = [t.record["restarts"]["starts"] for t in records if "starts" in t.record["restarts"]]
    if not logged:
        return []
    over = sum(0 in starts[1:] for starts in logged)
    return [
        f"- Of {len(logged)} records that log every start: {over} started over from scratch "
        "(Tune retried the trial before its first checkpoint; the record's "
        "`restarts.starts` lists the iteration each start went on from)."
    ]
