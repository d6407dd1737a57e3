#!/usr/bin/env bash
# --exclusive on a real cluster: an exclusive job pinned to a partly used node waits,
# and squeue's reason says it is for exclusivity; a later non-exclusive job that fits
# there starts at once (it is not held behind the exclusive one, and the core does not
# plan the exclusive job onto the busy node cycle after cycle). Once the node is idle,
# the exclusive job gets it whole.
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

state=$(e2e_state "$excl")
reason=$(squeue -h -j "$excl" -o '%r' 2>/dev/null)
[ "$state" = PENDING ] || e2e_fail "exclusive job $excl is $state beside a running job"
case "$reason" in
  *xclusive*) e2e_log "ok: exclusive job pending, squeue reason: $reason" ;;
  *) e2e_fail "exclusive job pending, but the reason does not name exclusivity: '$reason'" ;;
esac
# The core never planned it onto the busy node: no refused start in the log.
if grep -q "JobId=$excl not started" "$log"; then
  e2e_fail "the plugin had to drop planned starts of $excl: $(grep -m1 "JobId=$excl not started" "$log")"
fi
e2e_log "ok: no start of the exclusive job was planned onto the busy node"

[ "$(e2e_state "$busy")" = RUNNING ] || e2e_fail "the 1-GPU job $busy ended early: the test proves nothing"
scancel "$busy"
e2e_wait_all_done 60 "$later" "$excl" || e2e_fail "the exclusive job did not run once h100-1 was idle"
e2e_check "the exclusive job ran once h100-1 was idle" e2e_all_completed "$later" "$excl"
e2e_log "passed"
