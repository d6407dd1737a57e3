#!/usr/bin/env bash
# The one-machine cluster itself (stock sched/backfill, no accelpack code): it
# comes up with 8 nodes and the right accelerators, runs a small mixed workload
# to completion, and leaves no process behind, not even the step of a job whose
# slurmd stopped under it.
#   cluster_smoke.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init backfill "${1:-}"

e2e_check "8 nodes idle" test "$(sinfo -h -N -t idle -o %N | sort -u | wc -l)" -eq 8
gres=$(sinfo -h -N -o '%N %G' | sort -u | tr '\n' ' ')
for want in "h100-1 gpu:h100:8" "h200-2 gpu:h200:8" "a910b-1 npu:910b:8" "a910c-2 npu:910c:8"; do
  e2e_check "node ${want% *} has ${want#* }" grep -q "$want" <<<"$gres"
done
e2e_check "interactive srun returns" test "$(timeout 60 srun -N1 --gres=gpu:h100:1 hostname)" = "$(hostname)"

ACCELPACK_WORKLOAD_INFERENCE=12 ACCELPACK_WORKLOAD_SCALE=20 "$E2E_REPO/contrib/cluster/workload.sh" "$AP_RUN_DIR/workload.jobs"
ap_wait_jobs "$AP_RUN_DIR/workload.jobs" 300 smoke || e2e_fail "workload did not finish in 300 s"
e2e_check "every workload job completed" python3 "$E2E_REPO/contrib/cluster/report.py" run "$AP_RUN_DIR/workload.jobs" "$AP_RUN_DIR/summary.json" --label smoke --quiet
e2e_check "job completion log has every job" test "$(wc -l <"$AP_RUN_DIR/log/jobcomp.txt")" -ge "$(wc -l <"$AP_RUN_DIR/workload.jobs")"

# A slurmstepd outlives its slurmd (a node daemon stopped under a running job), and
# its process title overwrites the mark in its environment: teardown must still find
# it (by the run dir's files it holds open) and stop it.
long=$(e2e_submit -N1 --gres=gpu:h100:1 --wrap 'sleep 600')
e2e_wait_state "$long" RUNNING 60 || e2e_fail "job $long did not start"
ap_stop_slurmds
# (`if`, not `&&`: a last pid that is no slurmstepd must not fail the loop under set -e)
stepds=$(for p in $(ap_marked_pids); do if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = slurmstepd ]; then echo "$p"; fi; done)
e2e_check "the running job's slurmstepd is found after its slurmd stopped" test -n "$stepds"

pids=$(ap_marked_pids | tr '\n' ' ')
ap_cluster_down
e2e_check "no process left after teardown" test -z "$(ap_marked_pids)"
for p in $pids; do ap_pid_alive "$p" && e2e_fail "pid $p survived teardown"; done
e2e_log "passed"
