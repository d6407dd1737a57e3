#!/usr/bin/env bash
# accelpackd dies in the middle of a workload: jobs keep starting (the plugin's
# built-in policy); accelpackd comes back: the plugin uses it again, with delta
# snapshots. accelpackd restarted while the queue is empty: it gets the whole
# snapshot first, deltas after. Visible in slurmctld's and accelpackd's logs.
# Nothing is lost.
#   core_restart.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init accelpack "${1:-}"
log="$AP_RUN_DIR/log/slurmctld.log"
ids=()

submit_batch() {  # N TAG: N small jobs over every kind
  local n=$1 tag=$2 i kinds=(gpu:h100 gpu:h200 npu:910b npu:910c)
  for ((i = 0; i < n; i++)); do
    ids+=("$(e2e_submit -J "$tag-$i" --gres="${kinds[i % 4]}:$((1 + i % 2))" --wrap "sleep $((3 + i % 4))")")
  done
}
wait_log() {  # PATTERN TIMEOUT
  local i
  for ((i = 0; i < $2 * 5; i++)); do grep -q "$1" "$log" && return 0; sleep 0.2; done
  return 1
}
started_by() {  # SOURCE JOBID... -> how many of them the log says SOURCE started
  local src=$1 n=0 id; shift
  for id in "$@"; do grep -q "accelpack: started JobId=$id on .*($src)" "$log" && n=$((n + 1)); done
  echo "$n"
}

# 1. core up: the plugin uses it
submit_batch 60 before
wait_log 'accelpack: started JobId=.*(core)' 30 || e2e_fail "no job started by the core"
e2e_log "ok: jobs start through the core"

# 2. kill -9 accelpackd while jobs are pending
core_pid=$(ap_pidfile_pid "$AP_RUN_DIR/pid/accelpackd.pid")
kill -KILL "$core_pid"
e2e_log "killed accelpackd (pid $core_pid) with $(squeue -h -t PD -o %i | wc -l) jobs pending"
before_outage=("${ids[@]}")
ids=()
submit_batch 24 outage
outage=("${ids[@]}")
wait_log 'accelpack: core unavailable' 30 || e2e_fail "the plugin never said the core is unavailable"
e2e_log "ok: log says: $(grep -m1 -o 'accelpack: core unavailable.*' "$log")"
e2e_wait_all_done 180 "${outage[@]}" || e2e_fail "jobs submitted during the outage did not run"
n=$(started_by built-in "${outage[@]}")
e2e_check "jobs kept starting without the core ($n of ${#outage[@]} by the built-in policy)" test "$n" -eq "${#outage[@]}"

# 3. restart accelpackd: the plugin uses it again
ap_start_accelpackd
e2e_log "accelpackd restarted (pid $(ap_pidfile_pid "$AP_RUN_DIR/pid/accelpackd.pid"))"
# Keep work arriving until the plugin has found the core again (it retries the
# core only while jobs are pending), then check that new jobs go through it.
ids=()
for ((t = 0; t < 90; t++)); do
  grep -q 'accelpack: core answering again' "$log" && break
  submit_batch 4 "reconnect$t"
  sleep 1
done
reconnect=("${ids[@]}")
grep -q 'accelpack: core answering again' "$log" || e2e_fail "the plugin never went back to the core (90 s after the restart)"
e2e_log "ok: log says: $(grep -m1 -o 'accelpack: core answering again.*' "$log")"
ids=()
submit_batch 16 after
after=("${ids[@]}")
e2e_wait_all_done 180 "${reconnect[@]}" "${after[@]}" || e2e_fail "jobs after the restart did not run"
n=$(started_by core "${after[@]}")
e2e_check "the core places jobs again ($n of ${#after[@]} after it answered)" test "$n" -eq "${#after[@]}"

e2e_wait_all_done 180 "${before_outage[@]}" || e2e_fail "jobs from before the outage did not finish"
core_log="$AP_RUN_DIR/log/accelpackd.out"
e2e_check "the plugin sent delta snapshots to the restarted core" grep -q '(delta on [0-9]*:' "$core_log"

# 4. restart accelpackd while the queue is empty: the restarted core holds no base,
#    so the plugin's next snapshot must reach it whole (after the plugin's resync:
#    either the core asked for it, or the broken connection made the plugin start over)
#    and later ones as deltas on it; jobs go through the core again. (The core asking
#    for the whole snapshot within one call is covered by plugin_tests'
#    DeltaWithCore.)
core_pid=$(ap_pidfile_pid "$AP_RUN_DIR/pid/accelpackd.pid")
kill -KILL "$core_pid"
ap_start_accelpackd
new_pid=$(ap_pidfile_pid "$AP_RUN_DIR/pid/accelpackd.pid")
e2e_log "accelpackd killed and restarted with an empty queue (pid $new_pid)"
ids=()
for ((t = 0; t < 60; t++)); do
  grep -q "accelpackd\[$new_pid\] info: whole snapshot from" "$core_log" && break
  submit_batch 2 "resync$t"
  sleep 1
done
grep -q "accelpackd\[$new_pid\] info: whole snapshot from" "$core_log" \
  || e2e_fail "the restarted core never got a whole snapshot"
e2e_log "ok: core log says: $(grep -m1 -o "whole snapshot from.*" <(grep "accelpackd\[$new_pid\]" "$core_log"))"
resync=("${ids[@]}")
ids=()
submit_batch 8 resynced
resynced=("${ids[@]}")
e2e_wait_all_done 180 "${resync[@]}" "${resynced[@]}" || e2e_fail "jobs after the resync did not run"
n=$(started_by core "${resynced[@]}")
e2e_check "the core places jobs after the resync ($n of ${#resynced[@]})" test "$n" -eq "${#resynced[@]}"
resync+=("${resynced[@]}")

all=("${before_outage[@]}" "${outage[@]}" "${reconnect[@]}" "${after[@]}" "${resync[@]}")
e2e_check "all ${#all[@]} jobs completed (nothing lost)" e2e_all_completed "${all[@]}"
e2e_check "every job started by the plugin on the nodes it ran on" e2e_check_started_by_plugin "${all[@]}"
e2e_log "passed"
