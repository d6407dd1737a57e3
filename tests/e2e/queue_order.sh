#!/usr/bin/env bash
# The plugin builds Slurm's pending queue itself, in chunks between which it yields
# slurmctld's locks (plugin/sched_accelpack/job_queue.c). With QueueCheck=yes it
# also builds Slurm's own queue (build_job_queue + sort_job_queue) in the same hold
# and compares: the same records (job, partition, priority, reservation) and the
# jobs in the same order. Behind a full cluster, a queue large enough to take
# several holds, with jobs in two partitions, one over a partition's time limit,
# held, dependent, begin-time, nice and --prefer jobs; then holds released,
# priorities changed, jobs cancelled while cycles run. After every change, once the
# queue is quiet, the check must report the same queue as Slurm's.
#   queue_order.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export ACCELPACK_PLUGIN_CONF_EXTRA="StatsEveryCycles=1
QueueCheck=yes
IdleReplanMs=300"
e2e_init accelpack "${1:-}"
n_bulk=${ACCELPACK_QUEUE_ORDER_JOBS:-4000}
log="$AP_RUN_DIR/log/slurmctld.log"

fill=()
for k in gpu:h100 gpu:h200 npu:910b npu:910c; do
  for i in 1 2; do fill+=("$(e2e_submit -J fill -p training --gres="$k:8" --wrap 'sleep 900')"); done
done
for id in "${fill[@]}"; do e2e_wait_state "$id" RUNNING 60 || e2e_fail "fill job $id did not start"; done

# The special cases, before the bulk (so they sort among it by priority).
both=$(e2e_submit -J both -p inference,training --gres=gpu:h100:1 --wrap 'sleep 1')
long=$(e2e_submit -J long -p inference,training --time=10-00:00:00 --gres=gpu:h200:1 --wrap 'sleep 1')
held=$(e2e_submit -J held -H --gres=npu:910b:1 --wrap 'sleep 1')
dep=$(e2e_submit -J dep --dependency=afterok:"${fill[0]}" --gres=npu:910c:1 --wrap 'sleep 1')
later=$(e2e_submit -J later --begin=now+3600 --gres=gpu:h100:1 --wrap 'sleep 1')
nice=$(e2e_submit -J nice --nice=500 -p inference,training --gres=gpu:h200:2 --wrap 'sleep 1')
pref=$(e2e_submit -J prefer --prefer=h200 -p inference,training --gres=gpu:1 --wrap 'sleep 1')
arr=$(e2e_submit -J arr --array=1-20%3 -p inference,training --gres=npu:910b:1 --wrap 'sleep 1')
e2e_log "special jobs: both=$both long=$long held=$held dep=$dep later=$later nice=$nice prefer=$pref array=$arr"

submit_part() {  # PART OF
  local i kinds=(gpu:h100 gpu:h200 npu:910b npu:910c) parts=(inference training inference,training)
  for ((i = $1; i < n_bulk; i += $2)); do
    sbatch --parsable --chdir=/tmp --output=/dev/null -J "q$i" -p "${parts[i % 3]}" \
      --gres="${kinds[(i / 3) % 4]}:$((1 + i % 2))" --time=10 --wrap 'sleep 1' >/dev/null
  done
}
submitters=()
for p in 0 1 2 3; do submit_part "$p" 4 & submitters+=($!); done
wait "${submitters[@]}"
e2e_log "$(squeue -h -t PD -o %i | wc -l) pending"

# quiet: wait until the last queue check (after MARK) says "same"; fail after T s
last_check_same() {  # MARK TIMEOUT
  local mark=$1 t=$2 line i
  for ((i = 0; i < t * 2; i++)); do
    line=$(tail -n +"$mark" "$log" | grep 'accelpack: queue check:' | tail -1 || true)
    case "$line" in *"same as Slurm's"*) echo "$line"; return 0 ;; esac
    sleep 0.5
  done
  e2e_log "last check: ${line:-none}"
  return 1
}
step() {  # WHAT: after a change, the queue is Slurm's again within 30 s
  local mark line
  mark=$(wc -l <"$log")
  sleep 1
  line=$(last_check_same "$mark" 30) || e2e_fail "queue differs from Slurm's after: $1"
  e2e_log "after $1: ${line##*queue check: }"
}

step "submitting $n_bulk jobs"
scontrol release "$held"
step "releasing a held job"
scontrol hold "$both"
step "holding a job in two partitions"
scontrol update jobid="$nice" nice=0
step "changing a job's nice value"
scancel "$long"
scancel $(squeue -h -n q7,q8,q9 -o %i) 2>/dev/null || true
step "cancelling jobs"
scontrol update jobid="$later" StartTime=now
step "moving a begin time to now"

# Changes while cycles run: holds and releases every 0.2 s for 6 s.
mark=$(wc -l <"$log")
for ((i = 0; i < 30; i++)); do
  if ((i % 2)); then scontrol release "$both" 2>/dev/null || true; else scontrol hold "$both" 2>/dev/null || true; fi
  sleep 0.2
done
scontrol release "$both" 2>/dev/null || true
step "holds and releases during cycles"

checks=$(grep -c "accelpack: queue check: .* same as Slurm's" "$log" || true)
differs=$(grep -c "accelpack: queue check: differs" "$log" || true)
chunked=$(sed -n 's/.*accelpack: cycle .* queue [0-9.]* ms in \([0-9]*\) holds.*/\1/p' "$log" | awk '$1 >= 2' | wc -l)
by_slurm=$(grep -c "by Slurm in one" "$log" || true)
e2e_log "queue checks: $checks same, $differs differing (only while jobs changed); cycles whose queue took >= 2 holds: $chunked; built by Slurm instead: $by_slurm"
[ "$differs" -eq 0 ] || e2e_log "e.g. $(grep -m 3 'accelpack: queue check: differs' "$log" | sed 's/.*differs: //' | tr '\n' ';')"
e2e_check "the queue was compared with Slurm's (>= 10 checks)" test "$checks" -ge 10
e2e_check "the queue was built in several holds (>= 1 cycle)" test "$chunked" -ge 1
e2e_log "passed"
