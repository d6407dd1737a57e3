#!/usr/bin/env bash
# While the core is away, the plugin's fallback keeps every rule the core keeps: it
# runs the core's own engine in-process. With accelpackd stopped, an illegal 910C
# request (3 devices: would split a two-die module) stays pending, a two-node 910C
# gang whose nodes sit in two SuperPoDs stays pending, and legal work still starts
# (by the built-in policy, as slurmctld's log says).
#   fallback_rules.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init accelpack "${1:-}"
log="$AP_RUN_DIR/log/slurmctld.log"

in_pod() {  # NODE POD
  local features="ascend,910c,cann,superpod_$2"
  scontrol update NodeName="$1" AvailableFeatures="$features" ActiveFeatures="$features"
}

ap_stop_accelpackd
e2e_log "accelpackd stopped"
in_pod a910c-1 east
in_pod a910c-2 west
illegal=$(e2e_submit -J odd910c --gres=npu:910c:3 --wrap 'sleep 1')
gang=$(e2e_submit -J gang -p training -N 2 --gres=npu:910c:8 --wrap 'srun hostname; sleep 1')
legal=$(e2e_submit -J legal --gres=npu:910c:2 --wrap 'sleep 1')
other=$(e2e_submit -J h100 --gres=gpu:h100:3 --wrap 'sleep 1')

e2e_wait_all_done 60 "$legal" "$other" || e2e_fail "legal jobs did not run while the core was away"
for id in "$legal" "$other"; do
  grep -q "accelpack: started JobId=$id on .*(built-in)" "$log" ||
    e2e_fail "job $id was not started by the built-in policy"
done
e2e_log "ok: legal jobs started by the built-in policy"
sleep 3   # many more fallback cycles
e2e_check "the illegal 910C request (3 devices) is still pending" test "$(e2e_state "$illegal")" = PENDING
e2e_check "the 910C gang over two SuperPoDs is still pending" test "$(e2e_state "$gang")" = PENDING
e2e_log "reasons: $illegal: $(squeue -h -j "$illegal" -o '%r'); $gang: $(squeue -h -j "$gang" -o '%r')"

in_pod a910c-2 east
e2e_wait_all_done 60 "$gang" || e2e_fail "the gang did not run once both nodes were in one pod"
e2e_check "the gang ran on both 910C nodes" \
  test "$(e2e_hosts "$(e2e_field "$gang" NodeList)" | tr '\n' ' ')" = "a910c-1 a910c-2 "
e2e_check "the illegal request is still pending" test "$(e2e_state "$illegal")" = PENDING
scancel "$illegal"
e2e_log "passed"
