"""Results of a sweep or a campaign as tables and figures, read from its folder.

    python -m rbrl_ray.report results/sweeps/smoke --out results/sweeps/smoke/report [--wandb]
    python -m rbrl_ray.report results/campaign

Writes summary.csv, fig2_methods.png, fig3_ablation.png, curves_<env>.png,
reward_model.png and report.md (a sweep's Tune folder; default out: its report/)
or RESULTS.md with the paper's claims tested (a campaign's records; default out:
the campaign's folder). A partial sweep (missing seeds, trials still
running) is reported as such: what is missing is listed, nothing crashes.
"""

from __future__ import annotations

from pathlib import Path

from rbrl_ray.cli import OneLineParser, UsageError
from rbrl_ray.report.trials import is_campaign
from rbrl_ray.report.writer import log_to_wandb, write_report

PROG = "rbrl_ray.report"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("storage_dir", type=Path, help="a sweep's folder: STORAGE/NAME")
    p.add_argument("--out", type=Path, help="default: STORAGE_DIR/report")
    p.add_argument("--wandb", action="store_true", help="also log the report to W&B")
    p.add_argument("--wandb-project", default="rbrl_ray")
    p.add_argument(
        "--skip-damaged",
        action="store_true",
        help="leave out trials whose files cannot be read, and list them (default: stop)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.storage_dir.is_dir():
        raise UsageError(f"no such sweep folder {str(args.storage_dir)!r}")
    # a campaign's RESULTS.md and figures live beside its records, to be committed
    default = args.storage_dir if is_campaign(args.storage_dir) else args.storage_dir / "report"
    out = args.out or default
    result = write_report(args.storage_dir, out, args.skip_damaged)
    print(result["summary"].to_string(index=False))
    for damage in result["skipped"]:
        print(f"skipped: {damage}")
    for gap in result["missing"]:
        print(f"missing: {gap}")
    if args.wandb:
        mode = log_to_wandb(out, result, args.wandb_project, args.storage_dir.name)
        print(f"logged the report to W&B ({mode}), project {args.wandb_project}")
    print(f"wrote {result['page']}, summary.csv and {len(result['figures'])} figures")
    return 0
