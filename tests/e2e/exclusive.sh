#!/usr/bin/env bash
# --exclusive on a real cluster: an exclusive job pinned to a partly used node waits,
# and squeue's reason says it is for exclusivity; a later non-exclusive job that fits
# there starts at once (it is not held behind the exclusive one, and the core does not
# plan the exclusive job onto the busy node cycle after cycle). Once the node is idle,
# the exclusive job gets it whole. Then --exclusive=user: the same user's jobs share a
# node, another user's job keeps off it until the owner's job ends.
#   exclusive.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init accelpack "${1:-}"
log="$AP_RUN_DIR/log/slurmctld.log"

busy=$(e2e_submit -J busy -w h100-1 --gres=gpu:h100:1 -t 5 --wrap 'sleep 300')
e2e_wait_state "$busy" RUNNING 30 || e2e_fail "job $busy did not start"
excl=$(e2e_submit -J excl -w h100-1 --exclusive --gres=gpu:h100:6 -t 1 --wrap 'sleep 1')
sleep 2   # many cycles
later=$(e2e_submit -J later -w h100-1 --gres=gpu:h100:2 -t 1 --wrap 'sleep 1')
e2e_wait_state "$later" RUNNING 10 || e2e_wait_all_done 5 "$later" ||
  e2e_fail "the later 2-GPU job did not start beside the 1-GPU job ($(e2e_state "$later"))"
e2e_log "ok: the later non-exclusive job started at once"

# JOB is pending with a squeue reason matching PATTERN (a glob), and the core never
# planned it onto the node it may not have: no start the plugin had to drop.
#   kept_off JOB PATTERN WHAT
kept_off() {
  local job=$1 pattern=$2 what=$3 state reason
  state=$(e2e_state "$job")
  reason=$(squeue -h -j "$job" -o '%r' 2>/dev/null)
  [ "$state" = PENDING ] || e2e_fail "$what $job is $state"
  # shellcheck disable=SC2053  # the pattern is a glob on purpose
  [[ "$reason" == $pattern ]] || e2e_fail "$what pending, but the reason does not match $pattern: '$reason'"
  e2e_log "ok: $what pending, squeue reason: $reason"
  if grep -q "JobId=$job not started" "$log"; then
    e2e_fail "the plugin had to drop planned starts of $job: $(grep -m1 "JobId=$job not started" "$log")"
  fi
  e2e_log "ok: no start of $what was planned onto a node it may not have"
}

kept_off "$excl" '*xclusive*' "the exclusive job (beside a running job)"

[ "$(e2e_state "$busy")" = RUNNING ] || e2e_fail "the 1-GPU job $busy ended early: the test proves nothing"
scancel "$busy"
e2e_wait_all_done 60 "$later" "$excl" || e2e_fail "the exclusive job did not run once h100-1 was idle"
e2e_check "the exclusive job ran once h100-1 was idle" e2e_all_completed "$later" "$excl"

# --exclusive=user: root's job holds h100-1 for root; root's next --exclusive=user job
# joins it at once (not whole-node), another user's job waits with a reason naming the
# owner, and the core does not plan it onto the node for Slurm to refuse.
user=accelpack-e2e
id "$user" >/dev/null 2>&1 || useradd -M -s /bin/bash "$user"
owner=$(e2e_submit -J owner -w h100-1 --exclusive=user --gres=gpu:h100:1 -t 5 --wrap 'sleep 300')
e2e_wait_state "$owner" RUNNING 30 || e2e_fail "the --exclusive=user job $owner did not start"
mine=$(e2e_submit -J mine -w h100-1 --exclusive=user --gres=gpu:h100:2 -t 1 --wrap 'sleep 1')
e2e_wait_state "$mine" 'RUNNING|COMPLETED' 10 ||
  e2e_fail "root's second --exclusive=user job did not join root's node ($(e2e_state "$mine"))"
e2e_log "ok: a second --exclusive=user job of the same user joined the node at once"
other=$(cd /tmp && runuser -u "$user" -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable \
  --chdir=/tmp --output=/dev/null -J other -w h100-1 --gres=gpu:h100:1 -t 1 --wrap 'sleep 1' |
  cut -d';' -f1)
sleep 3   # many cycles
kept_off "$other" '*exclusive to another user*' "$user's job (on a node root holds)"
scancel "$owner"
e2e_wait_all_done 60 "$mine" "$other" || e2e_fail "$user's job did not run once root's job ended"
e2e_check "$user's job ran once the node had no owner" e2e_all_completed "$mine" "$other"
e2e_log "passed"
