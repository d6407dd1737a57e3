#!/usr/bin/env bash
# `scontrol reconfigure` in the middle of a workload, twice. Since Slurm 23.11 that
# starts a new slurmctld process (it saves state, stops its schedulers, and execs
# itself; the new process loads sched/accelpack afresh); 22.05 re-reads the files
# in place and calls sched_p_reconfig(). Either way: jobs running keep running on
# their nodes, no job is lost, everything pending and submitted afterwards is
# started by the plugin through the core, and a changed accelpack.conf is in effect.
#   reconfigure.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init accelpack "${1:-}"
log="$AP_RUN_DIR/log/slurmctld.log"
conf="$AP_RUN_DIR/conf/accelpack.conf"
ids=()

submit_batch() {  # N TAG: N small jobs over every kind
  local n=$1 tag=$2 i kinds=(gpu:h100 gpu:h200 npu:910b npu:910c)
  for ((i = 0; i < n; i++)); do
    ids+=("$(e2e_submit -J "$tag-$i" --gres="${kinds[i % 4]}:$((1 + i % 2))" --wrap "sleep $((2 + i % 4))")")
  done
}
count() { grep -c "$1" "$log" || true; }
wait_count() {  # PATTERN MIN TIMEOUT: until the log has at least MIN such lines
  local i
  for ((i = 0; i < $3 * 5; i++)); do [ "$(count "$1")" -ge "$2" ] && return 0; sleep 0.2; done
  return 1
}
starts_while_stopping() {  # starts logged after the last SIGHUP, before the plugin loaded again
  awk '/Reconfigure signal \(SIGHUP\) received/ { n = 0; stopping = 1 }
       /sched\/accelpack loaded/ { stopping = 0 }
       stopping && /accelpack: started JobId=/ { n++ }
       END { print n + 0 }' "$log"
}
# The new process is up and has scheduled again once the plugin logged its
# settings another time (it reads them on its first cycle, and after
# sched_p_reconfig() in 22.05).
reconfigure() {  # TAG INTERVAL_MS
  local tag=$1 interval=$2 configs loads pending
  configs=$(count 'accelpack: config ')
  loads=$(count 'sched/accelpack loaded')
  pending=$(squeue -h -t PD -o %i | wc -l)
  sed -i '/^IntervalMs=/d' "$conf"
  echo "IntervalMs=$interval" >>"$conf"
  e2e_log "$tag: scontrol reconfigure with $(squeue -h -t R -o %i | wc -l) running, $pending pending, IntervalMs=$interval"
  scontrol reconfigure || e2e_fail "$tag: scontrol reconfigure failed"
  wait_count 'accelpack: config ' $((configs + 1)) 60 ||
    e2e_fail "$tag: the plugin did not read its settings again after the reconfigure"
  e2e_check "$tag: the new settings are in effect" \
    bash -c "grep 'accelpack: config ' '$log' | tail -1 | grep -q 'IntervalMs=$interval '"
  if ap_version_le 23.11 "$(ap_slurm_version)"; then
    # a new slurmctld process loaded the plugin again
    e2e_check "$tag: a new slurmctld loaded sched/accelpack" test "$(count 'sched/accelpack loaded')" -gt "$loads"
    # Between the signal and the exec the old process stops its agent: a job
    # started then is never launched and sits RUNNING with nothing on its node.
    e2e_check "$tag: nothing started while the old slurmctld was stopping" \
      test "$(starts_while_stopping)" -eq 0
  fi
  scontrol ping | grep -q 'is UP' || e2e_fail "$tag: slurmctld does not answer after the reconfigure"
}

# 1. a workload that keeps the cluster busy: long jobs on whole nodes, many short
#    ones queued behind them
long=()
for k in gpu:h100 gpu:h200 npu:910b npu:910c; do
  long+=("$(e2e_submit -J "long-$k" -p training --gres="$k:8" --wrap 'sleep 20')")
done
submit_batch 40 before
for id in "${long[@]}"; do e2e_wait_state "$id" RUNNING 60 || e2e_fail "job $id did not start"; done
declare -A nodes
for id in "${long[@]}"; do nodes[$id]=$(e2e_field "$id" NodeList); done

# 2. reconfigure while jobs run and others wait; submit during and after
reconfigure first 150
submit_batch 16 between
# The second time with the documented example (contrib/accelpack.conf, every key
# spelled out) as the settings, the cluster's core address kept: the plugin must
# take all of it, no "keeping the previous settings".
core_line=$(grep -i '^CoreAddress' "$conf")
grep -vi '^CoreAddress' "$E2E_DIR/../../contrib/accelpack.conf" >"$conf"
echo "$core_line" >>"$conf"
refused_before=$(count 'keeping the previous settings')
reconfigure second 100
e2e_check "second: the example accelpack.conf is read without an error" \
  test "$(count 'keeping the previous settings')" -eq "$refused_before"
for id in "${long[@]}"; do
  s=$(e2e_state "$id")
  [[ "$s" =~ ^(RUNNING|COMPLETING|COMPLETED)$ ]] && [ "$(e2e_field "$id" NodeList)" = "${nodes[$id]}" ] ||
    e2e_fail "job $id is $s on $(e2e_field "$id" NodeList), was RUNNING on ${nodes[$id]}"
done
e2e_log "ok: long jobs kept their nodes through both reconfigures"
ap_wait_nodes 60 || e2e_fail "nodes not usable after the reconfigures"
submit_batch 16 after

# 3. nothing lost: every job completes, every one started by the plugin on the
#    nodes it logged, through the core (not the built-in fallback)
all=("${long[@]}" "${ids[@]}")
e2e_wait_all_done 300 "${all[@]}" || e2e_fail "jobs did not finish"
e2e_check "all ${#all[@]} jobs completed" e2e_all_completed "${all[@]}"
e2e_check "every job started by the plugin on its nodes" e2e_check_started_by_plugin "${all[@]}"
by_core=0
for id in "${all[@]}"; do grep -q "accelpack: started JobId=$id on .*(core)" "$log" && by_core=$((by_core + 1)); done
e2e_check "jobs started through the core ($by_core of ${#all[@]})" test "$by_core" -eq "${#all[@]}"
# 4. a FIFO where accelpack.conf should be (a mistaken path, a half-done edit): the
#    plugin reads the file on its agent thread while slurmctld runs, so an open that
#    waited for a writer would stop scheduling for good and hang slurmctld's
#    shutdown. It must be refused at once, with the settings kept, and jobs go on.
saved="$AP_RUN_DIR/accelpack.conf.saved"
mv "$conf" "$saved"
mkfifo "$conf"
refused_before=$(count 'not a regular file.*keeping the previous settings')
scontrol reconfigure || e2e_fail "fifo: scontrol reconfigure failed"
wait_count 'not a regular file.*keeping the previous settings' $((refused_before + 1)) 60 ||
  e2e_fail "fifo: the plugin did not refuse a FIFO at $conf within 60 s"
scontrol ping | grep -q 'is UP' || e2e_fail "fifo: slurmctld does not answer"
late=$(e2e_submit -J after-fifo --gres=gpu:h100:1 --wrap 'sleep 1')
e2e_wait_all_done 120 "$late" || e2e_fail "fifo: a job submitted afterwards did not finish"
e2e_check "fifo: the job submitted afterwards completed" e2e_all_completed "$late"
e2e_check "fifo: ... started by the plugin" e2e_check_started_by_plugin "$late"
rm -f "$conf"
mv "$saved" "$conf"
e2e_log "passed (Slurm $(ap_slurm_version))"
