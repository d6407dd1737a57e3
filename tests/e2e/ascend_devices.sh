#!/usr/bin/env bash
# Ascend 910C modules through Slurm's own device pick (ACCELPACK_NPU_FILES=1: the npu
# lines of gres.conf name device files, as on a real node, so cons_tres tracks each
# die and gives a job the lowest free ones). A 910C module is two dies (0-1, 2-3, ...);
# a job of an even count must get whole modules. The core plans the node, Slurm picks
# the dies, so the core may start such a job only where Slurm's pick is whole modules:
#  - die 0 busy: a 2-die job pinned to that node (-w) waits, naming the shape, where
#    Slurm would have given it dies 1-2 (half of two modules); an unpinned one goes to
#    the other 910C node and gets dies 0-1 there;
#  - once die 1 is busy too, the pinned job starts on dies 2-3;
#  - every 910C start of the test holds whole modules, as Slurm reports them.
# gres.conf gives each die its socket (Cores=, as the probe writes on a real node), so
# cons_tres on its own would hand a job whose cores span both sockets one die of each
# (dies 0 and 4 on an idle node: half of two modules); the plugin holds the other free
# dies back for the length of the start (device_pick.c), so the job gets the dies the
# core checked:
#  - a 2-die job asking 40 CPUs (more than a socket's 32) gets one module;
#  - an --exclusive job, which takes the whole node, is not held back from (cons_tres
#    would refuse it a node with any die counted allocated).
#   ascend_devices.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export ACCELPACK_NPU_FILES=1 ACCELPACK_NPU_CORES=1
e2e_init accelpack "${1:-}"

idx() {  # idx JOBID -> the dies Slurm gave the job ("0", "2-3", ...), from scontrol -d
  scontrol show job -d "$1" | sed -n 's/.*GRES=npu:910c:[0-9]*(IDX:\([^)]*\)).*/\1/p' | head -1
}
expect_idx() {  # expect_idx JOBID WHAT EXPECTED
  local got
  got=$(idx "$1")
  [ "$got" = "$3" ] || e2e_fail "$2: job $1 holds 910C dies '$got', expected $3 ($(scontrol show job -d "$1" | grep -o 'GRES=[^ ]*'))"
  e2e_log "ok: $2: dies $got"
}

grep -q "File=.*davinci" "$E2E_RUN_DIR/conf/gres.conf" || e2e_fail "gres.conf names no NPU device files"
grep -q "davinci\[4-7\] Cores=32-63" "$E2E_RUN_DIR/conf/gres.conf" || e2e_fail "gres.conf gives the NPUs no sockets"
scontrol show node a910c-1 | grep -q 'Gres=npu:910c:8' || e2e_fail "a910c-1 does not report npu:910c:8"

scenario() {  # scenario WHO: the whole sequence, planned by WHO (the core, or the built-in fallback)
  local who=$1 one pinned free two wide reason
  one=$(e2e_submit -J die-a -w a910c-1 --gres=npu:910c:1 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$one" RUNNING 30 || e2e_fail "$who: a one-die job on a910c-1 did not start"
  expect_idx "$one" "$who: one die on an idle node" 0

  # Slurm would give a 2-die job dies 1-2 here: it must wait, saying why.
  pinned=$(e2e_submit -J module-pinned -w a910c-1 --gres=npu:910c:2 -t 10 --wrap 'sleep 600')
  # Not pinned: best fit would like the partly used a910c-1, where Slurm's pick breaks the
  # rule, so it must go to a910c-2.
  free=$(e2e_submit -J module-free --gres=npu:910c:2 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$free" RUNNING 30 || e2e_fail "$who: an unpinned 2-die job did not start"
  [ "$(e2e_field "$free" NodeList)" = a910c-2 ] ||
    e2e_fail "$who: the unpinned 2-die job ran on $(e2e_field "$free" NodeList), where Slurm's pick splits modules"
  expect_idx "$free" "$who: an unpinned 2-die job on the other node" 0-1
  sleep 3   # several cycles
  [ "$(e2e_state "$pinned")" = PENDING ] ||
    e2e_fail "$who: the pinned 2-die job is $(e2e_state "$pinned") with die 0 busy: $(scontrol show job -d "$pinned" | grep -o 'GRES=[^ ]*')"
  reason=$(squeue -h -j "$pinned" -o '%r')
  case "$reason" in
    *"legal topology shape"*) e2e_log "ok: $who: a 2-die job pinned to a910c-1 waits: $reason" ;;
    *) e2e_fail "$who: the pinned 2-die job waits without naming the shape: '$reason'" ;;
  esac

  # Die 1 taken as well: Slurm's pick for two dies is now module 2-3.
  two=$(e2e_submit -J die-b -w a910c-1 --gres=npu:910c:1 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$two" RUNNING 30 || e2e_fail "$who: a second one-die job on a910c-1 did not start"
  expect_idx "$two" "$who: the second die on a910c-1" 1
  e2e_wait_state "$pinned" RUNNING 30 || e2e_fail "$who: the pinned 2-die job did not start once dies 0-1 were busy"
  expect_idx "$pinned" "$who: the pinned 2-die job" 2-3

  # Cores on both sockets of a910c-2 (1 + 40 > 32): cons_tres alone would give dies 2 and 4.
  wide=$(e2e_submit -J module-wide -w a910c-2 -c 40 --gres=npu:910c:2 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$wide" RUNNING 30 || e2e_fail "$who: a 2-die job of 40 CPUs did not start on a910c-2"
  expect_idx "$wide" "$who: a 2-die job whose cores span both sockets" 2-3

  e2e_check "$who: every start was the plugin's" e2e_check_started_by_plugin "$one" "$two" "$pinned" "$free" "$wide"
  local id
  for id in "$one" "$two" "$pinned" "$free" "$wide"; do
    if [ "$who" = fallback ]; then
      grep -q "accelpack: started JobId=$id on .*(built-in)" "$AP_RUN_DIR/log/slurmctld.log" ||
        e2e_fail "$who: job $id was not started by the built-in policy"
    fi
  done
  scancel "$one" "$two" "$pinned" "$free" "$wide"
  e2e_wait_all_done 60 "$one" "$two" "$pinned" "$free" "$wide" || true

  # A whole node's job gets every die whatever is held, and cons_tres refuses it a node
  # with any die counted allocated: nothing is held back for it.
  local whole
  whole=$(e2e_submit -J module-whole -w a910c-2 --exclusive --gres=npu:910c:2 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$whole" RUNNING 30 ||
    e2e_fail "$who: an --exclusive 2-die job did not start on an idle node: $(squeue -h -j "$whole" -o '%r')"
  e2e_log "ok: $who: an --exclusive 2-die job started"
  scancel "$whole"
  e2e_wait_all_done 60 "$whole" || true
}

scenario core
ap_stop_accelpackd
e2e_log "accelpackd stopped: the plugin's built-in policy plans from here"
scenario fallback
e2e_log "passed"
