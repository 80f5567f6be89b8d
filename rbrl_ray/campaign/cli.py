"""A campaign of record: every tier of one YAML, run in pieces, finished trials kept.

    python -m rbrl_ray.campaign --config tune_configs/campaign.yaml
    python -m rbrl_ray.campaign --config tune_configs/campaign.yaml --tiers A --dry-run
    python -m rbrl_ray.campaign --config tune_configs/campaign.yaml --rerun KEY

A finished trial's compact record goes to RECORDS/NAME/trials/<key>.json (commit
them); its Tune folder (checkpoints, W&B files) to STORAGE/NAME/run-<k>/. Run the
command again after any interruption: trials with a record are skipped, an
interrupted Tune run resumes from its checkpoints, and the rest start fresh.
`--rerun KEY` runs one recorded trial's spec again for a few iterations and checks
that its true returns equal the record's.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rbrl_ray.campaign.config import Campaign, CampaignTrial, load_campaign
from rbrl_ray.campaign.records import PLAN_FILE, pending, plan
from rbrl_ray.cli import OneLineParser, choice_list, int_in_range
from rbrl_ray.jsonio import write_json
from rbrl_ray.ray_start import init_ray
from rbrl_ray.sweep.cli import WANDB_MODES, wandb_mode
from rbrl_ray.sweep.varied import describe

PROG = "rbrl_ray.campaign"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, required=True, help="campaign YAML (tune_configs/)")
    p.add_argument("--tiers", help="comma-separated tiers to run (default: all)")
    p.add_argument("--dry-run", action="store_true", help="print what is done and what is left")
    p.add_argument("--records", type=Path, default=Path("results"), help="default: results")
    p.add_argument(
        "--storage", type=Path, default=Path("results") / "sweeps", help="default: results/sweeps"
    )
    p.add_argument("--max-concurrent", type=int_in_range("max-concurrent", 1))
    p.add_argument(
        "--cpus",
        type=int_in_range("cpus", 1),
        help="CPUs Ray may hand out on this machine (default: its cores)",
    )
    p.add_argument(
        "--wandb", choices=WANDB_MODES, help="default: online with W&B credentials, else offline"
    )
    p.add_argument(
        "--rerun",
        metavar="KEY",
        help="run one recorded trial's spec again and compare its first iterations' true "
        "returns with the record's (exit 1 if any differs)",
    )
    p.add_argument(
        "--rerun-iterations", type=int_in_range("rerun-iterations", 1), default=3, help="default 3"
    )
    return p


def selected_trials(campaign: Campaign, tiers: str | None) -> list[CampaignTrial]:
    if tiers is None:
        return campaign.trials
    chosen = set(choice_list(tiers, tuple(campaign.sweeps), "tier", "--tiers"))
    return [t for t in campaign.trials if chosen & set(t.tiers)]


def status_table(campaign: Campaign, trials: list[CampaignTrial], records: Path) -> Table:
    left = {t.key for t in pending(trials, records)}
    table = Table(title=f"campaign {campaign.name!r}: {len(trials)} trials")
    for column in ("tier", "env", "method", "classes", "env steps", "trials", "recorded"):
        table.add_column(column, justify="left" if column in ("tier", "env", "method") else "right")
    cells: Counter = Counter()
    done: Counter = Counter()
    for t in trials:
        cell = (t.tiers[0], t.spec.env, t.spec.method, t.spec.classes, t.spec.timesteps)
        cells[cell] += 1
        done[cell] += t.key not in left
    for (tier, env, method, classes, steps), n in cells.items():
        shown = "-" if classes is None else str(classes)
        key = (tier, env, method, classes, steps)
        table.add_row(tier, env, method, shown, f"{steps:,}", str(n), str(done[key]))
    return table


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    campaign = load_campaign(args.config)
    trials = selected_trials(campaign, args.tiers)
    records = args.records / campaign.name
    if args.rerun is not None:
        return rerun_one(args, records)
    mode = wandb_mode(args.wandb)
    console = Console(width=max(100, Console().width))
    console.print(status_table(campaign, trials, records))
    for tier, sweep in campaign.sweeps.items():
        if sweep.varied:
            console.print(f"tier {tier} varies (every combination): {describe(sweep.varied)}")
    left = pending(trials, records)
    if len(left) < len(trials):
        console.print(
            f"skipping {len(trials) - len(left)} finished trials (records in {records}/trials)"
        )
    if args.dry_run:
        console.print(f"{len(left)} trials left, nothing started")
        return 0
    write_json(records / PLAN_FILE, plan(campaign.trials, campaign.varied))  # the whole YAML
    if not left:
        console.print("0 trials left")
        return 0
    return launch(args, campaign, trials, records, mode, console)


def rerun_one(args: argparse.Namespace, records: Path) -> int:
    from rbrl_ray.campaign.rerun import recorded_spec, rerun, same_returns

    spec, recorded = recorded_spec(records, args.rerun)
    os.environ["WANDB_MODE"] = "disabled"
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic table, as the campaign's
    init_ray(num_cpus=args.cpus)
    storage = (args.storage / "reruns" / args.rerun).resolve()
    again = rerun(spec, args.rerun_iterations, storage)
    rows = same_returns(recorded, again, args.rerun_iterations)
    for iteration, old, new, equal in rows:
        verdict = "same" if equal else "DIFFERENT"
        print(f"iteration {iteration}: recorded {old!r}, rerun {new!r}: {verdict}")
    same = len(rows) == args.rerun_iterations and all(r[3] for r in rows)
    print(f"{args.rerun}: {'reproduced exactly' if same else 'NOT reproduced'}")
    return 0 if same else 1


def launch(
    args: argparse.Namespace,
    campaign: Campaign,
    trials: list[CampaignTrial],
    records: Path,
    mode: str,
    console: Console,
) -> int:
    os.environ["WANDB_MODE"] = mode
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic table shows our columns
    from rbrl_ray.campaign.runner import run_campaign
    from rbrl_ray.sweep.tune_logging import SpecWandbCallback

    init_ray(num_cpus=args.cpus)
    callbacks = []
    if mode != "disabled":
        project = next(iter(campaign.sweeps.values())).wandb_project
        compared = [t.spec.classes for t in trials if t.spec.classes is not None]
        callbacks.append(SpecWandbCallback(project=project, mode=mode, compared_classes=compared))
    storage = (args.storage / campaign.name).resolve()
    left = run_campaign(campaign, trials, records, storage, callbacks, args.max_concurrent)
    console.print(
        f"{len(trials) - len(left)} of {len(trials)} trials recorded in {records}/trials",
        soft_wrap=True,
    )
    console.print(f"  tables and figures: python -m rbrl_ray.report {records}", soft_wrap=True)
    if left:
        console.print(f"[red]{len(left)} trials without a record[/]; run the command again")
    return 1 if left else 0
