#!/usr/bin/env bash
# The alpha/k campaign (tune_configs/alpha_k.yaml) from its pinned commit
# (results/alpha_k/pinned_commit), one trial at a time: it runs beside campaign v2,
# which holds the machine's two cores. scripts/run_pinned.sh says how.
#   results/alpha_k/run_pinned.sh [more rbrl_ray.campaign options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../../scripts/run_pinned.sh" "$here" tune_configs/alpha_k.yaml \
    --cpus 2 --max-concurrent 1 "$@"
