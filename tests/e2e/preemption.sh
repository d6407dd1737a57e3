#!/usr/bin/env bash
# Reclaim (docs/preemption.md): preemptible training in a `scavenger` partition fills
# the H100 nodes; an inference job that needs a whole H100 node gets one back. The
# plugin requeues exactly the victim the core planned (one job, not both; none of
# Slurm's own choosing although PreemptType=preempt/partition_prio would let
# select_nodes pick victims), the inference job starts, the victim is pending again
# with Restarts=1 and the other keeps running. Then consolidation: two 4-NPU
# scavenger jobs scattered over both 910C nodes block a 2-node 910C training gang;
# both are requeued (and nothing else) and the gang starts. No job is lost: every
# victim runs again (a short rerun: SLURM_RESTART_COUNT is set) and completes.
# A requeued job is held back cred_expire + 1 s (AuthInfo; Slurm's default 120 s):
# the cluster runs with cred_expire=10 (an 11 s hold) so the reruns fit in the test.
# With `grace`, the scavenger partition has GraceTime=5: the victim is signalled first
# (draining, the core waits for it) and Slurm requeues it when the grace ends.
#   preemption.sh BUILD_DIR [grace]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
grace=0
[ "${2:-}" = grace ] && grace=5
# Slurm's minimum is 5; not lower than 10 so that a slow launch on a loaded machine
# does not outlive its job credential (same window).
export ACCELPACK_CRED_EXPIRE=10
hold_s=$((ACCELPACK_CRED_EXPIRE + 1))
# A scavenger job: long the first time, a few seconds once requeued.
# shellcheck disable=SC2016 # expanded by the job, not here
victim_script='if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then sleep 3; else sleep 600; fi'

policy=$(mktemp /tmp/accelpack-e2e-preemption-policy.XXXXXX.yaml)
cat "$E2E_REPO/contrib/cluster/policy.yaml" - >"$policy" <<'EOF'
preemption:
  partitions: [scavenger]
  reclaim_for: [inference, training]
EOF
export ACCELPACK_POLICY=$policy
# Scavenger below the other partitions: Slurm itself would preempt its jobs for
# any inference start, which the plugin must not let happen.
export ACCELPACK_SLURM_CONF_EXTRA="PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
JobRequeue=1
PartitionName=scavenger Nodes=h100-[1-2],a910c-[1-2] PriorityTier=0 GraceTime=$grace Default=NO DefaultTime=01:00:00 State=UP"
e2e_init accelpack "${1:-}"
rm -f "$policy"
log=$E2E_RUN_DIR/log/slurmctld.log

fill1=$(e2e_submit -p scavenger --requeue --gres=gpu:h100:8 --wrap "$victim_script")
fill2=$(e2e_submit -p scavenger --requeue --gres=gpu:h100:8 --wrap "$victim_script")
e2e_wait_state "$fill1" RUNNING 60 || e2e_fail "scavenger job $fill1 did not start"
e2e_wait_state "$fill2" RUNNING 60 || e2e_fail "scavenger job $fill2 did not start"
e2e_log "ok: preemptible jobs $fill1 $fill2 fill both H100 nodes (SubmitTime $(e2e_field "$fill1" SubmitTime) $(e2e_field "$fill2" SubmitTime))"
sleep 2   # both seen running by the core, past any exempt time (none set)

submitted=$(date +%s)
infer=$(e2e_submit -p inference --gres=gpu:h100:8 --wrap 'sleep 5')
# GraceTime, requeue, the victim's epilog (KillWait 5 s), then the next cycle starts it.
e2e_wait_state "$infer" 'RUNNING|COMPLETED' $((90 + grace)) || e2e_fail "inference job $infer did not reclaim a node"
e2e_log "ok: inference job $infer started $(($(date +%s) - submitted)) s after its submission"

# `|| true`: no match is a failed check below (with its message), not set -e's exit.
planned=$({ grep -o "accelpack: requeue JobId=[0-9]* for JobId=$infer " "$log" || true; } |
  sed 's/.*requeue JobId=\([0-9]*\) .*/\1/' | sort -u)
by_slurm=$({ grep -o 'preempted JobId=[0-9]* has been [a-z]*' "$log" || true; } |
  sed 's/preempted JobId=\([0-9]*\) .*/\1/' | sort -u)
e2e_log "planned victims: [$(echo $planned)], preempted in Slurm's log: [$(echo $by_slurm)]"
[ "$(wc -w <<<"$planned")" -eq 1 ] || e2e_fail "expected exactly one planned victim, got [$planned]"
[ "$planned" = "$by_slurm" ] || e2e_fail "Slurm preempted [$by_slurm], the plan said [$planned]"
case "$planned" in
  "$fill1") other=$fill2 ;;
  "$fill2") other=$fill1 ;;
  *) e2e_fail "victim $planned is not one of the scavenger jobs" ;;
esac
! grep -q "JobId=$planned.*had to be killed" "$log" || e2e_fail "victim $planned was killed, not requeued"

# The victim is back in the queue (requeued once), the other still runs.
e2e_wait_state "$planned" 'PENDING|REQUEUED|RUNNING|COMPLETED' 30 || e2e_fail "victim $planned is not requeued"
[ "$(e2e_field "$planned" Restarts)" = 1 ] || e2e_fail "victim $planned: Restarts=$(e2e_field "$planned" Restarts)"
e2e_check "the other scavenger job $other still runs" e2e_wait_state "$other" RUNNING 1
e2e_wait_all_done 60 "$infer" || e2e_fail "inference job $infer did not finish"
e2e_check "inference job completed" e2e_all_completed "$infer"

# Consolidation: the gang needs both 910C nodes whole.
scat1=$(e2e_submit -p scavenger --requeue -w a910c-1 --gres=npu:910c:4 --wrap "$victim_script")
scat2=$(e2e_submit -p scavenger --requeue -w a910c-2 --gres=npu:910c:4 --wrap "$victim_script")
e2e_wait_state "$scat1" RUNNING 60 || e2e_fail "scavenger job $scat1 did not start"
e2e_wait_state "$scat2" RUNNING 60 || e2e_fail "scavenger job $scat2 did not start"
sleep 2
submitted=$(date +%s)
gang=$(e2e_submit -p training -N 2 --gres=npu:910c:8 --wrap 'sleep 5')
e2e_wait_state "$gang" 'RUNNING|COMPLETED' $((90 + grace)) || e2e_fail "gang $gang did not start after a consolidation"
e2e_log "ok: 910C gang $gang started $(($(date +%s) - submitted)) s after its submission"
gang_victims=$({ grep -o "accelpack: requeue JobId=[0-9]* for JobId=$gang " "$log" || true; } |
  sed 's/.*requeue JobId=\([0-9]*\) .*/\1/' | sort -u | tr '\n' ' ')
e2e_check "the gang's victims are exactly the two scattered jobs ($gang_victims)" \
  test "$gang_victims" = "$(printf '%s\n' "$scat1" "$scat2" | sort -u | tr '\n' ' ')"
all_planned=$({ grep -o 'accelpack: requeue JobId=[0-9]*' "$log" || true; } | sed 's/.*=//' | sort -u | tr '\n' ' ')
all_slurm=$({ grep -o 'preempted JobId=[0-9]* has been [a-z]*' "$log" || true; } |
  sed 's/preempted JobId=\([0-9]*\) .*/\1/' | sort -u | tr '\n' ' ')
e2e_check "Slurm preempted only planned victims ([$all_slurm] = [$all_planned])" test "$all_slurm" = "$all_planned"
for id in "$scat1" "$scat2"; do
  e2e_wait_state "$id" 'PENDING|REQUEUED|RUNNING|COMPLETED' 30 || e2e_fail "victim $id is not requeued"
  [ "$(e2e_field "$id" Restarts)" = 1 ] || e2e_fail "victim $id: Restarts=$(e2e_field "$id" Restarts)"
done
e2e_check "the other scavenger job $other still runs" e2e_wait_state "$other" RUNNING 1
e2e_wait_all_done 60 "$gang" || e2e_fail "gang $gang did not finish"
e2e_check "the gang completed" e2e_all_completed "$gang"

# No job lost: each victim runs again once its requeue hold ($hold_s s) is over and
# its node is free, and completes, requeued exactly once. The bound budgets the
# hold, the cycles and the epilogs generously (a loaded 2-core machine).
for id in "$planned" "$scat1" "$scat2"; do
  e2e_wait_all_done $((hold_s + 120)) "$id" || e2e_fail "victim $id did not run again"
  e2e_check "victim $id completed its rerun (Restarts=$(e2e_field "$id" Restarts))" \
    test "$(e2e_state "$id"):$(e2e_field "$id" Restarts)" = COMPLETED:1
  e2e_log "victim $id: SubmitTime=$(e2e_field "$id" SubmitTime) EligibleTime=$(e2e_field "$id" EligibleTime) StartTime=$(e2e_field "$id" StartTime) EndTime=$(e2e_field "$id" EndTime)"
done
scancel "$other" 2>/dev/null || true
# 24.11 on: Slurm leaves a victim requeued at the end of its grace flagged
# GRACE_PREEMPT, which would requeue its rerun again; the plugin clears it.
e2e_log "GRACE_PREEMPT cleared by the plugin for: [$(sed -n 's/.*accelpack: JobId=\([0-9]*\) requeued after its grace time.*/\1/p' "$log" | sort -u | tr '\n' ' ')]"
e2e_log "passed (GraceTime=$grace)"
