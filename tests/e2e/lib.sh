# shellcheck shell=bash
# Shared setup for accelpack's end-to-end tests (sourced by every tests/e2e/*.sh).
#
#   e2e_init MODE BUILD_DIR      MODE: accelpack | backfill
#
# Creates a private run directory, picks free ports, and installs a trap that
# stops every daemon this test started (by PID) on any exit. Exits 77 (ctest
# SKIP_RETURN_CODE) when the test cannot run here: not root, or (mode
# accelpack) the plugin or accelpackd are not built/installed.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_REPO="$(cd "$E2E_DIR/../.." && pwd)"
E2E_NAME="$(basename "$0" .sh)"

e2e_log() { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "$E2E_NAME" "$*" >&2; }
e2e_skip() { echo "SKIP: $*" >&2; exit 77; }
e2e_fail() { echo "FAIL: $*" >&2; exit 1; }
e2e_check() {  # e2e_check "what" command...
  local what=$1; shift
  if "$@"; then e2e_log "ok: $what"; else e2e_fail "$what"; fi
}

# Finds sched_accelpack.so in the build dir (loaded from there via PluginDir, so
# the test exercises the plugin just built, not a stale installed copy): the one
# built for the Slurm release in use (plugin/slurm-<version>/, see
# ACCELPACK_SLURM_EXTRA_SRC), else the build's main one.
e2e_find_plugin_dir() {
  local ver so
  ver=$(slurmctld -V 2>/dev/null | awk '{ print $2 }')
  if [ -n "$ver" ] && [ -f "$1/plugin/slurm-$ver/sched_accelpack.so" ]; then
    echo "$1/plugin/slurm-$ver"
    return 0
  fi
  so=$(find "$1" -name sched_accelpack.so -type f -not -path '*/slurm-*/*' 2>/dev/null | head -1)
  [ -n "$so" ] && dirname "$so"
}

e2e_init() {
  local mode=$1 build=${2:-$E2E_REPO/build} pdir
  [ "$(id -u)" -eq 0 ] || e2e_skip "end-to-end tests need root (they start slurmd and munged)"
  # A Slurm under a prefix (ACCELPACK_SLURM_PREFIX) is asked for on purpose: missing
  # is a failure, not a skip.
  if [ -n "${ACCELPACK_SLURM_PREFIX:-}" ]; then
    [ -x "$ACCELPACK_SLURM_PREFIX/sbin/slurmctld" ] ||
      e2e_fail "ACCELPACK_SLURM_PREFIX=$ACCELPACK_SLURM_PREFIX has no sbin/slurmctld"
    export PATH="$ACCELPACK_SLURM_PREFIX/bin:$ACCELPACK_SLURM_PREFIX/sbin:$PATH"
  fi
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
    || e2e_skip "slurmctld/slurmd/munge not installed (contrib/install-deps.sh)"
  build=$(cd "$build" 2>/dev/null && pwd) || e2e_skip "build dir $2 does not exist"
  export ACCELPACK_BUILD_DIR="$build" ACCELPACK_MODE="$mode"
  if [ "$mode" = accelpack ]; then
    if pdir=$(e2e_find_plugin_dir "$build"); then export ACCELPACK_PLUGIN_DIR="$pdir"; fi
  fi
  E2E_RUN_DIR=$(mktemp -d /tmp/accelpack-e2e-"$E2E_NAME".XXXXXX)
  chmod 0755 "$E2E_RUN_DIR"
  export ACCELPACK_RUN_DIR="$E2E_RUN_DIR"
  # shellcheck source=../../contrib/cluster/lib.sh
  source "$E2E_REPO/contrib/cluster/lib.sh"
  if [ "$mode" = accelpack ]; then
    ap_plugin_installed || { rm -rf "$E2E_RUN_DIR"; e2e_skip "waiting on the plugin: sched_accelpack.so neither in $build nor in $AP_PLUGIN_DIR"; }
    [ -n "$(ap_accelpackd_bin)" ] || { rm -rf "$E2E_RUN_DIR"; e2e_skip "accelpackd not built in $build"; }
  fi
  trap e2e_cleanup EXIT
  trap 'e2e_log "interrupted"; exit 130' INT TERM HUP
  ap_cluster_up
  cd /tmp
}

e2e_cleanup() {
  local rc=$?
  trap - EXIT
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    e2e_log "failed (rc $rc); log tails follow; run dir kept: $E2E_RUN_DIR"
    for f in "$E2E_RUN_DIR"/log/slurmctld.log "$E2E_RUN_DIR"/log/accelpackd.out; do
      [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; } >&2
    done
    squeue -o '%i %j %T %r %N' 2>/dev/null | head -40 >&2 || true
  fi
  ap_cluster_down || true
  local left
  left=$(ap_marked_pids)
  [ -z "$left" ] || e2e_log "WARNING: processes still running after teardown: $left"
  if [ "$rc" -eq 0 ] && [ -z "${ACCELPACK_E2E_KEEP:-}" ]; then rm -rf "$E2E_RUN_DIR"; fi
  exit "$rc"
}

# --- job helpers ------------------------------------------------------------------

e2e_field() {  # e2e_field JOBID Field -> value from scontrol show job
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

e2e_state() { e2e_field "$1" JobState; }

# Waits until JOBID is in one of the states (regex) or gives up after $3 s.
e2e_wait_state() {
  local id=$1 want=$2 limit=${3:-60} i s
  for ((i = 0; i < limit * 5; i++)); do
    s=$(e2e_state "$id")
    [[ "$s" =~ ^($want)$ ]] && return 0
    sleep 0.2
  done
  e2e_log "job $id is '$s', wanted $want after ${limit}s"
  return 1
}

e2e_wait_all_done() {  # e2e_wait_all_done TIMEOUT JOBID...
  local limit=$1 id; shift
  for id in "$@"; do e2e_wait_state "$id" 'COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY' "$limit" || return 1; done
}

e2e_all_completed() {  # every job id given is COMPLETED
  local id s bad=0
  for id in "$@"; do
    s=$(e2e_state "$id")
    [ "$s" = COMPLETED ] || { e2e_log "job $id: $s ($(e2e_field "$id" Reason))"; bad=1; }
  done
  return $bad
}

e2e_submit() {  # e2e_submit SBATCH-ARGS... -> job id on stdout
  sbatch --parsable --chdir=/tmp --output="$AP_RUN_DIR/jobs/%j.out" "$@" | cut -d';' -f1
}

# Expands a Slurm hostlist into sorted names, one per line.
e2e_hosts() { scontrol show hostnames "$1" 2>/dev/null | sort; }

# Plugin log: "accelpack: started JobId=N on <nodes>" -> "N <nodes>" lines.
e2e_plugin_starts() {
  sed -n 's/.*accelpack: started JobId=\([0-9_]*\) on \([^ ]*\).*/\1 \2/p' "$AP_RUN_DIR/log/slurmctld.log"
}

# Every job in the list was started by sched/accelpack on exactly the nodes it
# ran on (scontrol's NodeList equals the plugin's log line for the job).
e2e_check_started_by_plugin() {
  local id nodes logged bad=0 starts
  starts=$(e2e_plugin_starts)
  for id in "$@"; do
    nodes=$(e2e_field "$id" NodeList)
    logged=$(awk -v id="$id" '$1 == id { print $2 }' <<<"$starts" | tail -1)
    if [ -z "$logged" ]; then
      e2e_log "job $id ran on $nodes but the plugin never logged starting it"; bad=1
    elif [ "$(e2e_hosts "$nodes")" != "$(e2e_hosts "$logged")" ]; then
      e2e_log "job $id ran on $nodes, the plugin started it on $logged"; bad=1
    fi
  done
  return $bad
}
