#!/usr/bin/env bash
# Paired A/B runs: the same workload on the same cluster definition under
# sched/accelpack + accelpackd and under stock sched/backfill, N times, then
# every run and the medians as a Markdown table. As root:
#
#   contrib/cluster/ab.sh [--workload quickstart|mixed] [--runs N] [--out DIR]
#
#   --workload  quickstart: contrib/cluster/workload.sh (52 jobs);
#               mixed: contrib/cluster/workload-mixed.sh (arrays, gangs,
#               exclusive, holds, dependencies, -w, a drained node; ~90 jobs)
#                                                            [quickstart]
#   --runs      paired runs                                  [3]
#   --out       where each run's cluster lives (logs, job list, summary.json)
#                                                            [/tmp/accelpack-ab-WORKLOAD]
#
# The order alternates (accelpack first in odd runs, backfill first in even
# ones) so that a machine that gets busier or quieter hits both. Uses
# accelpackd and sched_accelpack.so from the build dir ($ACCELPACK_BUILD_DIR,
# default build/) unless ACCELPACK_PLUGIN_DIR names another plugin directory.
# A run whose jobs do not all complete is reported (and counted) but kept.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
workload=quickstart runs=3 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --workload) workload=${2:?"ab: --workload needs quickstart or mixed"}; shift ;;
    --runs) runs=${2:?"ab: --runs needs a number"}; shift ;;
    --out) out=${2:?"ab: --out needs a directory"}; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "ab: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
case "$workload" in
  quickstart) script="$repo/contrib/cluster/workload.sh" ;;
  mixed) script="$repo/contrib/cluster/workload-mixed.sh" ;;
  *) echo "ab: --workload is quickstart or mixed, not '$workload'" >&2; exit 2 ;;
esac
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "ab: --runs wants a positive number, not '$runs'" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "ab: run as root (the cluster starts slurmd and munged)" >&2; exit 1; }
out=${out:-/tmp/accelpack-ab-$workload}
export ACCELPACK_BUILD_DIR="${ACCELPACK_BUILD_DIR:-$repo/build}"
if [ -z "${ACCELPACK_PLUGIN_DIR:-}" ]; then
  so=$(find "$ACCELPACK_BUILD_DIR/plugin" -maxdepth 1 -name sched_accelpack.so 2>/dev/null | head -1)
  [ -n "$so" ] && export ACCELPACK_PLUGIN_DIR="${so%/*}"
fi
install -d "$out"
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')

# One run of one scheduler, in a subshell so that each cluster's settings stay its own.
one_run() {
  local mode=$1 dir=$2
  (
    export ACCELPACK_RUN_DIR="$dir" ACCELPACK_MODE="$mode"
    # shellcheck source=lib.sh
    source "$repo/contrib/cluster/lib.sh"
    trap 'ap_cluster_down >/dev/null 2>&1 || true' EXIT
    ap_cluster_up
    bash "$script" "$dir/workload.jobs"
    ap_wait_jobs "$dir/workload.jobs" 1200 "$mode $(basename "$dir")" \
      || ap_log "workload did not finish (see $dir/log)"
    python3 "$repo/contrib/cluster/report.py" run "$dir/workload.jobs" "$dir/summary.json" \
      --label "$mode" >"$dir/report.txt" || ap_log "not every job completed (see $dir/report.txt)"
  )
}

summaries=()
for ((i = 1; i <= runs; i++)); do
  order=(accelpack backfill)
  [ $((i % 2)) -eq 0 ] && order=(backfill accelpack)
  for mode in "${order[@]}"; do
    dir="$out/run$i-$mode"
    # A cluster an interrupted earlier run left there is stopped first, not deleted
    # from under its daemons (its munged would be orphaned for good).
    ACCELPACK_RUN_DIR="$dir" bash "$repo/contrib/cluster/down.sh" >/dev/null 2>&1 || true
    rm -rf "$dir"
    echo "== run $i/$runs: $mode ($workload) in $dir  $(date -u +%H:%M:%S)" >&2
    one_run "$mode" "$dir" || echo "ab: run $i $mode failed" >&2
    [ -f "$dir/summary.json" ] && summaries+=("$dir/summary.json")
  done
done
echo "== $workload workload, $runs paired runs, ended $(date -u '+%Y-%m-%d %H:%M UTC'), tree at $commit when started"
python3 "$repo/contrib/cluster/report.py" medians "${summaries[@]}"
