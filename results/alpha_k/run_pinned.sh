#!/usr/bin/env bash
# The alpha/k campaign (tune_configs/alpha_k.yaml) from its pinned commit.
#   results/alpha_k/run_pinned.sh [more rbrl_ray.campaign options]
# The commit is in results/alpha_k/pinned_commit; a `git archive` snapshot of it (made
# once, beside the checkout) runs the campaign. Records land in this checkout's
# results/alpha_k/trials/ (commit them), Tune's folders in results/sweeps/ (not
# committed; an interrupted run resumes from them). One trial at a time: it runs beside
# campaign v2, which holds the machine's two cores.
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
cd "$snapshot"
PYTHONPATH="$snapshot" exec "$python" -m rbrl_ray.campaign \
    --config tune_configs/alpha_k.yaml --records "$repo/results" \
    --storage "$repo/results/sweeps" --cpus 2 --max-concurrent 1 "$@"
