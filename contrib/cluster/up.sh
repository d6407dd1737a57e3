#!/usr/bin/env bash
# Brings up accelpack's one-machine Slurm cluster: munged, accelpackd (mode
# accelpack), slurmctld and one slurmd per emulated node. See lib.sh for settings.
#   contrib/cluster/up.sh                         # sched/accelpack + accelpackd
#   ACCELPACK_MODE=backfill contrib/cluster/up.sh # stock sched/backfill
# Then: source /tmp/accelpack-cluster/env.sh; sinfo; sbatch ...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ap_refuse_running  # before the trap: a running cluster is not ours to stop
trap 'rc=$?; if [ $rc -ne 0 ]; then ap_log "start failed; stopping what was started"; ap_cluster_down; fi' EXIT
ap_cluster_up
sinfo -o '%12P %5D %10t %28G %N'
echo "use it: source $AP_RUN_DIR/env.sh"
