#!/usr/bin/env bash
# A campaign from its pinned commit: every record comes from one version of the code.
#   scripts/run_pinned.sh RECORDS_DIR CONFIG [more rbrl_ray.campaign options]
# RECORDS_DIR (results/<campaign>) holds `pinned_commit`. A `git archive` snapshot of
# that commit (made once, beside the checkout) runs the campaign; records land in this
# checkout's RECORDS_DIR/trials/ (commit them), Tune's folders in results/sweeps/ (not
# committed; an interrupted run resumes from them). Change a pin only with
# `python -m rbrl_ray.campaign --rerun KEY` showing the new commit reproduces a record.
set -euo pipefail
records="$(cd "$1" && pwd)"
config="$2"
shift 2
repo="$(cd "$(dirname "$0")/.." && pwd)"
commit="$(cat "$records/pinned_commit")"
snapshot="${RBRL_SNAPSHOTS:-$repo/../rbrl_snapshots}/$commit"
if [ ! -f "$snapshot/pyproject.toml" ]; then
    mkdir -p "$snapshot"
    git -C "$repo" archive "$commit" | tar -x -C "$snapshot"
fi
python="${PYTHON:-$repo/.venv/bin/python}"
cd "$snapshot"
# At a lower priority (RBRL_NICE, default 10): work beside it (tests, a Ray that must
# register within Ray's fixed 30 s) goes first; the records are the same either way.
PYTHONPATH="$snapshot" exec nice -n "${RBRL_NICE:-10}" "$python" -m rbrl_ray.campaign --config "$config" \
    --records "$repo/results" --storage "$repo/results/sweeps" "$@"
