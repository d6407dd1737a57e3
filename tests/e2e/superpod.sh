#!/usr/bin/env bash
# SuperPoD labels reach the core: an Ascend 910C gang never spans two SuperPoDs.
# Slurm has no SuperPoD of its own; sites label nodes with the feature
# superpod_NAME. With a910c-1 and a910c-2 in different pods, a two-node 910C job
# waits with a reason that names the SuperPoD; once both nodes are in one pod,
# sched/accelpack starts it on both.
#   superpod.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init accelpack "${1:-}"

in_pod() {  # NODE POD: the node's features from slurm.conf plus its pod
  local features="ascend,910c,cann,superpod_$2"
  scontrol update NodeName="$1" AvailableFeatures="$features" ActiveFeatures="$features"
}

in_pod a910c-1 east
in_pod a910c-2 west
id=$(e2e_submit -J gang -p training -N 2 --gres=npu:910c:8 --wrap 'srun hostname; sleep 1')
sleep 4   # several scheduling cycles
state=$(e2e_state "$id")
reason=$(squeue -h -j "$id" -o '%r' 2>/dev/null)
[ "$state" = PENDING ] || e2e_fail "gang $id over two SuperPoDs is $state, expected PENDING"
case "$reason" in
  *SuperPoD*) e2e_log "ok: pods east/west: pending, squeue reason: $reason" ;;
  *) e2e_fail "gang $id pending, but the reason does not name the SuperPoD: '$reason'" ;;
esac

in_pod a910c-2 east
e2e_wait_all_done 60 "$id" || e2e_fail "gang $id did not run once both nodes were in one pod"
e2e_check "the gang completed" e2e_all_completed "$id"
e2e_check "sched/accelpack started it on both 910C nodes" \
  test "$(e2e_hosts "$(e2e_field "$id" NodeList)" | tr '\n' ' ')" = "a910c-1 a910c-2 "
e2e_check "on the nodes the core chose" e2e_check_started_by_plugin "$id"
e2e_log "passed"
