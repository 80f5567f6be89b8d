#!/usr/bin/env bash
# Campaign v2 from its pinned commit: every record of a tier comes from one trial path.
#   results/campaign_v2/run_pinned.sh [--tiers T1] [more rbrl_ray.campaign options]
# The commit is in results/campaign_v2/pinned_commit. A `git archive` snapshot of it
# (made once, beside the checkout) runs the campaign; records land in this checkout's
# results/campaign_v2/trials/ (commit them), Tune's folders in results/sweeps/ (not
# committed; an interrupted run resumes from them). Change the pin only with
# `python -m rbrl_ray.campaign --rerun KEY` showing the new commit reproduces a record.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
commit="$(cat "$here/pinned_commit")"
snapshot="${RBRL_SNAPSHOTS:-$repo/../rbrl_snapshots}/$commit"
if [ ! -f "$snapshot/pyproject.toml" ]; then
    mkdir -p "$snapshot"
    git -C "$repo" archive "$commit" | tar -x -C "$snapshot"
fi
python="${PYTHON:-$repo/.venv/bin/python}"
if [ $# -eq 0 ]; then set -- --tiers T1; fi
cd "$snapshot"
PYTHONPATH="$snapshot" exec "$python" -m rbrl_ray.campaign \
    --config tune_configs/campaign_v2.yaml --records "$repo/results" \
    --storage "$repo/results/sweeps" --cpus 4 --max-concurrent 2 "$@"
