#!/usr/bin/env bash
# A job that can never fit is refused at submit time, or stays pending with a
# clear reason in squeue (never silently pending, never started).
#   never_fits.sh BUILD_DIR [accelpack|backfill]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mode=${2:-accelpack}
e2e_init "$mode" "${1:-}"

check_never_fits() {  # description, sbatch args...
  local what=$1 out rc id reason state
  shift
  set +e
  out=$(sbatch --parsable --chdir=/tmp --output=/dev/null "$@" --wrap 'sleep 1' 2>&1)
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    e2e_log "ok: $what: refused at submit: $(tail -1 <<<"$out")"
    return 0
  fi
  id=${out%%;*}
  sleep 3   # a few scheduling cycles
  state=$(e2e_state "$id")
  reason=$(squeue -h -j "$id" -o '%r' 2>/dev/null)
  [ "$state" = PENDING ] || e2e_fail "$what: job $id is $state, expected refused or pending"
  case "$reason" in
    ""|None|Priority) e2e_fail "$what: job $id pending without a clear reason ('$reason')" ;;
  esac
  e2e_log "ok: $what: pending, squeue reason: $reason"
  scancel "$id"
}

check_never_fits "9 H100 on one node (nodes have 8)" --gres=gpu:h100:9
check_never_fits "16 910B NPUs on one node" -p inference --gres=npu:910b:16
check_never_fits "3 nodes of 8 H200 (the cluster has 2)" -p training -N 3 --gres=gpu:h200:8
check_never_fits "a GPU type that does not exist" --gres=gpu:b200:1
check_never_fits "65 CPUs on one node (nodes have 64)" -N1 -n1 -c 65 --gres=gpu:h100:1
check_never_fits "nonexistent feature" --constraint=rocm --gres=gpu:h100:1

# The cluster still works for jobs that fit.
id=$(e2e_submit --gres=gpu:h100:1 --wrap 'sleep 1')
e2e_wait_all_done 60 "$id" || e2e_fail "a fitting job did not run"
e2e_check "a fitting job still completes" e2e_all_completed "$id"
e2e_log "passed ($mode)"
