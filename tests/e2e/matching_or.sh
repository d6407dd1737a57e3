#!/usr/bin/env bash
# Slurm's matching OR (-C "[a|b]"): every node of a gang carries the same
# alternative. Racks: h100-1 and h200-1 in rack_a, h100-2 and h200-2 in rack_b;
# with both h200 nodes busy, a two-node gang with -C "[rack_a|rack_b]" waits with a
# reason naming the alternatives (the core no longer plans the mixed start that
# select_nodes would refuse), while -C "rack_a|rack_b" (each node either) runs on
# the two free nodes at once; once rack_b has two free nodes, sched/accelpack
# starts the matching gang there.
#   matching_or.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init accelpack "${1:-}"

in_rack() {  # NODE TYPE RACK: the node's features from slurm.conf plus its rack
  local features="nvidia,hopper,$2,cuda,rack_$3"
  scontrol update NodeName="$1" AvailableFeatures="$features" ActiveFeatures="$features"
}

in_rack h100-1 h100 a
in_rack h200-1 h200 a
in_rack h100-2 h100 b
in_rack h200-2 h200 b
busy_a=$(e2e_submit -J busy_a -w h200-1 --exclusive -t 10 --wrap 'sleep 600')
busy_b=$(e2e_submit -J busy_b -w h200-2 --exclusive -t 10 --wrap 'sleep 600')
for id in "$busy_a" "$busy_b"; do
  e2e_wait_state "$id" RUNNING 60 || e2e_fail "job $id, which keeps an h200 node busy, did not start"
done

matching=$(e2e_submit -J matching -N 2 -C '[rack_a|rack_b]' -t 1 --wrap 'srun hostname')
sleep 4   # several scheduling cycles
state=$(e2e_state "$matching")
reason=$(squeue -h -j "$matching" -o '%r' 2>/dev/null)
[ "$state" = PENDING ] || e2e_fail "gang $matching with one free node per rack is $state, expected PENDING"
case "$reason" in
  *alternative*) e2e_log "ok: one free node per rack: pending, squeue reason: $reason" ;;
  *) e2e_fail "gang $matching pending, but the reason does not name the alternatives: '$reason'" ;;
esac

# Each node either: the two free nodes of different racks will do.
mixed=$(e2e_submit -J mixed -N 2 -C 'rack_a|rack_b' -t 1 --wrap 'srun hostname')
e2e_wait_all_done 60 "$mixed" || e2e_fail "gang $mixed (rack_a|rack_b) did not run"
e2e_check "the either-rack gang ran on h100-1 and h100-2" \
  test "$(e2e_hosts "$(e2e_field "$mixed" NodeList)" | tr '\n' ' ')" = "h100-1 h100-2 "
[ "$(e2e_state "$matching")" = PENDING ] || e2e_fail "the matching gang ran across two racks"

scancel "$busy_b"
e2e_wait_all_done 60 "$matching" || e2e_fail "gang $matching did not run once rack_b had two free nodes"
e2e_check "both gangs completed" e2e_all_completed "$matching" "$mixed"
e2e_check "sched/accelpack started the matching gang on rack_b" \
  test "$(e2e_hosts "$(e2e_field "$matching" NodeList)" | tr '\n' ' ')" = "h100-2 h200-2 "
e2e_check "on the nodes the core chose" e2e_check_started_by_plugin "$matching"
scancel "$busy_a"
e2e_log "passed"
