#!/usr/bin/env bash
# Commit each new record of a campaign on its own, with what it measured in the message:
#   scripts/commit_records.sh RECORDS_DIR        e.g. results/campaign_v2
# "campaign_v2 record 22: cheetah-run rbrl, 3 classes, seed 2: final evaluation 431.0
# at 1,008,000 steps (pinned commit)". Only the record is committed (`git commit --
# PATH`), so work in progress elsewhere in the tree stays out. Where the campaign's
# RESULTS.md is committed, it is rebuilt from the committed records and committed too
# (tests/test_committed_results.py holds every committed page to its records).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
records="${1:-}"
if [ -z "$records" ] || [ ! -d "$repo/$records/trials" ]; then
    echo "commit_records.sh: error: no campaign folder ${records:-(none given)} with trials/ in $repo (usage: scripts/commit_records.sh results/<campaign>)" >&2
    exit 2
fi
python="${PYTHON:-$repo/.venv/bin/python}"
cd "$repo"
name="$(basename "$records")"
for record in $(git ls-files --others --exclude-standard "$records/trials"); do
    n=$(( $(git ls-files "$records/trials" | wc -l) + 1 ))
    message="$("$python" - "$record" "$name" "$n" <<'PY'
import json
import sys
from pathlib import Path

path, name, n = sys.argv[1:]
record = json.load(open(path))
spec, last = record["spec"], record["iterations"][-1]
evaluation = last["evaluation/env_runners/episode_return_mean"]
steps = int(last["env_runners/num_env_steps_sampled_lifetime"])
classes = "" if spec["classes"] is None else f", {spec['classes']} classes"
pinned = " (pinned commit)" if (record.get("source") or {}).get("from") == "git archive" else ""
rerun = ""
superseded = Path(path).parent.parent / "superseded" / Path(path).name
if superseded.exists():  # a record moved aside and run again: say so, and what it said
    old = json.load(open(superseded))["iterations"][-1]
    rerun = (f"; rerun of the superseded record (which ended at "
             f"{old['evaluation/env_runners/episode_return_mean']:.1f})")
print(f"{name} record {n}: {spec['env']} {spec['method']}{classes}, seed {spec['seed']}: "
      f"final evaluation {evaluation:.1f} at {steps:,} steps{pinned}{rerun}")
PY
)"
    git add -- "$record"
    git commit -q -m "$message" -- "$record"
    echo "$message"
done
if git ls-files --error-unmatch "$records/RESULTS.md" >/dev/null 2>&1; then
    "$python" -m rbrl_ray.report "$records" >/dev/null
    if [ -n "$(git status --porcelain -- "$records")" ]; then
        git add -- "$records"
        git commit -q -m "$name RESULTS.md rebuilt from the committed records" -- "$records"
        echo "$name: RESULTS.md rebuilt"
    fi
fi
