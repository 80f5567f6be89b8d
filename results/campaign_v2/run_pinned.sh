#!/usr/bin/env bash
# Campaign v2 from its pinned commit (results/campaign_v2/pinned_commit), two trials at
# a time: scripts/run_pinned.sh says how.
#   results/campaign_v2/run_pinned.sh [--tiers T1] [more rbrl_ray.campaign options]
# By default tier T1 only. Not T1,T2: after a SIGINT stops the resumed T1 run, the
# (pinned) runner goes on to start the next tier's trials in a new run instead of
# exiting (fixed on main since; the pinned commit keeps it); start T2 with --tiers T2
# once every T1 trial is recorded.
#
# Every start is fresh: the pinned commit's rating service, restored in a trial's
# rating phase, takes the interrupted attempt's later ratings at once, ahead of the
# schedule (results/campaign_v2/superseded/README.md). So Tune's folders of an earlier
# start are set aside (renamed, never deleted) and unfinished trials start over.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -eq 0 ]; then set -- --tiers T1; fi
sweeps="$here/../sweeps/campaign_v2"
if [ -d "$sweeps" ]; then
    aside="$sweeps.set-aside-$(date -u +%Y%m%dT%H%M%SZ)"
    mv "$sweeps" "$aside"
    echo "run_pinned: unfinished trials start over; the earlier start's folders: $aside"
fi
exec "$here/../../scripts/run_pinned.sh" "$here" tune_configs/campaign_v2.yaml \
    --cpus 4 --max-concurrent 2 "$@"
