#!/usr/bin/env bash
# Ascend 910C modules through Slurm's own device pick (ACCELPACK_NPU_FILES=1: the npu
# lines of gres.conf name device files, as on a real node, so cons_tres tracks each
# die and gives a job the lowest free ones). A 910C module is two dies (0-1, 2-3, ...);
# a job of an even count must get whole modules. For a job asking an exact count per
# node the core plans the dies as well as the node, and the plugin holds every other
# free die back for the length of the start (device_pick.c), so cons_tres can only
# give the planned ones:
#  - die 0 busy: a 2-die job pinned to that node (-w) starts at once on module 2-3,
#    where Slurm's own pick would be dies 1-2 (half of two modules);
#  - an unpinned 2-die job goes to the same partly used node (module 4-5; Slurm's pick
#    would be dies 1 and 4), not to the idle one; a one-die job then fills die 1;
#  - every 910C start of the test holds whole modules, as Slurm reports them.
# gres.conf gives each die its socket (Cores=, as the probe writes on a real node), so
# cons_tres on its own would hand a job whose cores span both sockets one die of each
# (dies 0 and 4 on an idle node: half of two modules); with the hold:
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
  local who=$1 one pinned free two wide
  one=$(e2e_submit -J die-a -w a910c-1 --gres=npu:910c:1 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$one" RUNNING 30 || e2e_fail "$who: a one-die job on a910c-1 did not start"
  expect_idx "$one" "$who: one die on an idle node" 0

  # Slurm's own pick for two dies would be dies 1-2 here: the core plans module 2-3.
  pinned=$(e2e_submit -J module-pinned -w a910c-1 --gres=npu:910c:2 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$pinned" RUNNING 30 ||
    e2e_fail "$who: a 2-die job pinned to a910c-1 with die 0 busy did not start: $(squeue -h -j "$pinned" -o '%r')"
  expect_idx "$pinned" "$who: a pinned 2-die job next to busy die 0" 2-3
  # Not pinned: best fit takes the partly used a910c-1 again, on a whole module.
  free=$(e2e_submit -J module-free --gres=npu:910c:2 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$free" RUNNING 30 || e2e_fail "$who: an unpinned 2-die job did not start"
  [ "$(e2e_field "$free" NodeList)" = a910c-1 ] ||
    e2e_fail "$who: the unpinned 2-die job ran on $(e2e_field "$free" NodeList), not on the partly used a910c-1"
  expect_idx "$free" "$who: an unpinned 2-die job on the partly used node" 4-5
  two=$(e2e_submit -J die-b -w a910c-1 --gres=npu:910c:1 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$two" RUNNING 30 || e2e_fail "$who: a second one-die job on a910c-1 did not start"
  expect_idx "$two" "$who: the second die on a910c-1" 1

  # Cores on both sockets of the idle a910c-2 (40 > 32): cons_tres alone would give
  # dies 0 and 4.
  wide=$(e2e_submit -J module-wide -w a910c-2 -c 40 --gres=npu:910c:2 -t 10 --wrap 'sleep 600')
  e2e_wait_state "$wide" RUNNING 30 || e2e_fail "$who: a 2-die job of 40 CPUs did not start on a910c-2"
  expect_idx "$wide" "$who: a 2-die job whose cores span both sockets" 0-1

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
