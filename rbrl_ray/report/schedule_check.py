"""Whether each trial's ratings came as its schedule grants them.

Before 2026-12-07 a restored rating service took every rating its interrupted attempt
had made after the checkpoint at once (rbrl_ray/rllib/service.py), so a trial restored
in its rating phase held ratings, and fit its reward model to them, iterations before
its schedule asked for them. A record shows it as more ratings at an iteration than the
schedule had asked for by that iteration's env steps; the page names such records.
"""

from __future__ import annotations

from pathlib import Path

from rbrl_ray.experiment import ExperimentSpec
from rbrl_ray.report.trials import Trial

SUPERSEDED_DIR = "superseded"  # a campaign's records replaced by reruns, with a README


def scheduled_ratings(spec: ExperimentSpec, steps: int) -> int:
    """The ratings the schedule has asked for once `steps` env steps are sampled."""
    s = spec.schedule
    if steps < s.explore_steps:
        return 0
    due = min(s.queries, (steps - s.explore_steps) // s.every + 1)
    return min(s.total, due * s.per_query)


def first_ahead(trial: Trial) -> tuple[int, int, int] | None:
    """(env steps, ratings held, ratings the schedule had asked for) at the first
    iteration where the trial held more than its schedule had asked for; None if none."""
    if not trial.spec.learns_reward or "ratings" not in trial.curve:
        return None
    for steps, held in trial.curve[["steps", "ratings"]].dropna().itertuples(index=False):
        asked = scheduled_ratings(trial.spec, int(steps))
        if held > asked:
            return int(steps), int(held), asked
    return None


def _name(t: Trial) -> str:
    classes = f" c{t.spec.classes}" if t.spec.classes is not None else ""
    return f"{t.spec.env} {t.spec.method}{classes} s{t.spec.seed}"


def schedule_lines(trials: list[Trial], folder: Path | None = None) -> list[str]:
    """Provenance bullets: the trials whose ratings ran ahead of their schedule (or that
    none did), and the records a campaign superseded."""
    rating = [t for t in trials if t.spec.learns_reward and "ratings" in t.curve]
    if not rating:
        return []
    ahead = [(t, found) for t in rating if (found := first_ahead(t)) is not None]
    if ahead:
        named = "; ".join(
            f"{_name(t)} (at {steps:,} steps: {held:,} ratings where the schedule had asked "
            f"for {asked:,})"
            for t, (steps, held, asked) in ahead
        )
        lines = [
            f"- Ratings ahead of the schedule in {len(ahead)} of {len(rating)} trials that "
            "learn from ratings: restored in their rating phase, they took every rating the "
            "interrupted attempt had made after the checkpoint at once (the code before "
            "2026-12-07; since, each is used when its query falls due), so their reward "
            f"models were fit to ratings iterations early: {named}."
        ]
    else:
        lines = [
            f"- Ratings on schedule: none of the {len(rating)} trials that learn from ratings "
            "held more ratings at an iteration than its schedule had asked for by then."
        ]
    superseded = sorted((folder / SUPERSEDED_DIR).glob("*.json")) if folder else []
    if superseded:
        n = len(superseded)
        lines.append(
            f"- Superseded: {n} record{'s' if n != 1 else ''} moved to `{SUPERSEDED_DIR}/` "
            f"and rerun (`{SUPERSEDED_DIR}/README.md` says why); nothing on this page reads "
            f"{'them' if n != 1 else 'it'}."
        )
    return lines
