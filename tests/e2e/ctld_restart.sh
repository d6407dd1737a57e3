#!/usr/bin/env bash
# slurmctld restarts while jobs run: they survive (same job, same nodes, they
# complete) and scheduling resumes (queued and new jobs start afterwards), the
# new process starting over with a whole snapshot (a new delta epoch).
#   ctld_restart.sh BUILD_DIR [accelpack|backfill]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mode=${2:-accelpack}
e2e_init "$mode" "${1:-}"

running=()
running+=("$(e2e_submit -J long-h100 -p training --gres=gpu:h100:8 -N 2 --wrap 'srun sleep 25')")
running+=("$(e2e_submit -J long-910b -p training --gres=npu:910b:8 --wrap 'sleep 25')")
running+=("$(e2e_submit -J long-h200 --gres=gpu:h200:2 --wrap 'sleep 25')")
running+=("$(e2e_submit -J long-910c --gres=npu:910c:1 --wrap 'sleep 25')")
for id in "${running[@]}"; do e2e_wait_state "$id" RUNNING 60 || e2e_fail "job $id did not start"; done
# queued behind the 2-node H100 job
queued=$(e2e_submit -J queued-h100 --gres=gpu:h100:4 --wrap 'sleep 2')
declare -A nodes
for id in "${running[@]}"; do nodes[$id]=$(e2e_field "$id" NodeList); done
e2e_log "running: $(for id in "${running[@]}"; do printf '%s@%s ' "$id" "${nodes[$id]}"; done); queued: $queued"

old=$(ap_pidfile_pid "$AP_RUN_DIR/pid/slurmctld.pid")
ap_stop_slurmctld
e2e_check "slurmctld (pid $old) stopped" bash -c "! kill -0 $old 2>/dev/null"
sleep 2
ap_start_slurmctld
e2e_log "slurmctld restarted (pid $(ap_pidfile_pid "$AP_RUN_DIR/pid/slurmctld.pid"))"

for id in "${running[@]}"; do
  e2e_check "job $id still running on ${nodes[$id]}" \
    test "$(e2e_state "$id") $(e2e_field "$id" NodeList)" = "RUNNING ${nodes[$id]}"
done
ap_wait_nodes 60 || e2e_fail "nodes did not re-register"
new=$(e2e_submit -J after-restart --gres=npu:910c:2 --wrap 'sleep 1')
e2e_wait_state "$new" 'RUNNING|COMPLETING|COMPLETED' 60 || e2e_fail "a new job did not start after the restart"
e2e_log "ok: a new job started after the restart"
e2e_wait_all_done 120 "${running[@]}" "$queued" "$new" || e2e_fail "jobs did not finish"
e2e_check "every job completed, the queued one too" e2e_all_completed "${running[@]}" "$queued" "$new"
if [ "$mode" = accelpack ]; then
  e2e_check "every job started by the plugin on its nodes" e2e_check_started_by_plugin "${running[@]}" "$queued" "$new"
  # The new slurmctld is a new epoch: it sent the whole snapshot first, not a delta
  # on the old process's base.
  epochs=$(sed -n 's/.*whole snapshot from .* (epoch \([0-9]*\),.*/\1/p' "$AP_RUN_DIR/log/accelpackd.out" | sort -u | wc -l)
  e2e_check "the restarted slurmctld began with a whole snapshot of a new epoch ($epochs epochs)" test "$epochs" -ge 2
fi
e2e_log "passed ($mode)"
