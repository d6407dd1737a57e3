#!/usr/bin/env bash
# A training gang submitted into a steady stream of inference starts within the
# policy's wait bound (queue.max_wait_s), not after the stream dries up: once overdue it
# reserves its nodes (squeue --start shows when and where) and the stream only backfills
# around it. The stream: an array of 1-GPU inference jobs, several times what the H100
# nodes hold, with the class boost that puts inference first.
#   gang_fairness.sh BUILD_DIR
set -euo pipefail
BOUND=15   # training's max_wait_s for this test (the default is 1800)
policy=$(mktemp /tmp/accelpack-policy.XXXXXX.yaml)
sed "s/^    training: 1800$/    training: $BOUND/" "$(dirname "$0")/../../contrib/cluster/policy.yaml" >"$policy"
grep -q "training: $BOUND" "$policy" || { echo "FAIL: could not set the bound in $policy" >&2; exit 1; }
export ACCELPACK_POLICY="$policy"
source "$(dirname "$0")/lib.sh"
e2e_init accelpack "${1:-}"
rm -f "$policy"

# 16 H100 GPUs; 160 tasks of ~4 s: the stream alone keeps them busy for ~40 s.
stream=$(e2e_submit -J stream -p inference --array=0-159 --gres=gpu:h100:1 -t 1 --wrap 'sleep 4')
sleep 3
submitted=$(date +%s)
gang=$(e2e_submit -J gang -p training -N 2 --gres=gpu:h100:8 -t 1 --wrap 'srun hostname; sleep 2')

# While it waits past its bound, squeue --start shows a planned start and its nodes.
seen_start=""
for ((i = 0; i < 200; i++)); do
  state=$(e2e_state "$gang")
  [ "$state" = PENDING ] || break
  line=$(squeue -h --start -j "$gang" -o '%S %Y' 2>/dev/null || true)
  case "$line" in N/A*|"") ;; *) seen_start=$line ;; esac
  sleep 0.2
done
e2e_wait_state "$gang" 'RUNNING|COMPLETING|COMPLETED' $((BOUND + 60)) ||
  e2e_fail "gang $gang did not start within bound + 60 s"
started=$(date +%s)
waited=$((started - submitted))
left=$(squeue -h -r -j "$stream" -t PD 2>/dev/null | wc -l)
e2e_log "gang waited ${waited}s (bound ${BOUND}s); stream tasks still pending then: $left"
e2e_check "the gang started within its bound plus one inference time limit (${waited}s)" \
  test "$waited" -le $((BOUND + 60))
e2e_check "it did not just wait for the stream to end ($left tasks still pending)" test "$left" -gt 0
if [ -n "$seen_start" ]; then
  e2e_log "ok: squeue --start showed: $seen_start"
else
  e2e_fail "squeue --start never showed a planned start for the waiting gang"
fi
scancel "$stream" 2>/dev/null || true
e2e_wait_all_done 60 "$gang" || e2e_fail "gang did not complete"
e2e_check "the gang completed" e2e_all_completed "$gang"
e2e_log "passed"
