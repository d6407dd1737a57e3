#!/usr/bin/env bash
# accelpack quickstart: on a fresh Debian 12 machine, as root:
#
#   bash contrib/quickstart.sh
#
# 1. installs the packages (contrib/install-deps.sh), builds accelpack into build/,
#    installs the Slurm plugin sched/accelpack;
# 2. brings up a real Slurm cluster on this machine (8 emulated nodes: 2x H100,
#    2x H200, 2x Ascend 910B, 2x Ascend 910C, 8 devices each) with accelpack,
#    submits a mixed workload with plain sbatch, waits for it, shows where each
#    job ran, utilization and queueing delay, and submit-to-start latency;
# 3. does the same with Slurm's stock sched/backfill on the same cluster;
# 4. prints both side by side and tears everything down.
#
# Options: --no-build (use what is in build/), --only accelpack|backfill,
#          --keep (leave the last cluster running), --latency-jobs N (default 10),
#          --fractional (the cluster variant with fractional accelerators: h200-[1-2]
#          share their GPUs as shard GRES, h100-2 is cut into MIG slices, and the
#          workload adds shard and MIG inference jobs; ACCELPACK_FRACTIONAL=1 does too).
# Everything a cluster writes lives under $ACCELPACK_QUICKSTART_DIR
# (default /tmp/accelpack-quickstart), one sub-directory per scheduler.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${ACCELPACK_BUILD_DIR:-$repo/build}"
base="${ACCELPACK_QUICKSTART_DIR:-/tmp/accelpack-quickstart}"
do_build=1 keep=0 only="" latency_jobs=10
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --keep) keep=1 ;;
    --only) only=${2:?"quickstart: --only needs accelpack or backfill"}; shift ;;
    --latency-jobs) latency_jobs=${2:?"quickstart: --latency-jobs needs a number"}; shift ;;
    --fractional) export ACCELPACK_FRACTIONAL=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "quickstart: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\n== %s\n' "$*"; }
[ "$(id -u)" -eq 0 ] || { echo "quickstart: run as root (bash contrib/quickstart.sh as root, or sudo bash contrib/quickstart.sh)" >&2; exit 1; }

current_run=""
cleanup() {
  local rc=$?
  # A second Ctrl-C must not cut the teardown short (daemons and jobs left running).
  trap '' INT TERM HUP
  if [ -n "$current_run" ] && [ "$keep" -eq 0 ]; then
    ACCELPACK_RUN_DIR="$current_run" bash "$repo/contrib/cluster/down.sh" || true
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. install, build, install the plugin -------------------------------------
if [ "$do_build" -eq 1 ]; then
  say "installing packages"
  bash "$repo/contrib/install-deps.sh"
  say "building accelpack in $build_dir"
  # Tests off for a fresh build dir only: a developer's build dir keeps its tests
  # (turning them off there leaves stale test binaries that ctest still runs).
  configure=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ -f "$build_dir/CMakeCache.txt" ] || configure+=(-DACCELPACK_BUILD_TESTS=OFF)
  cmake -S "$repo" -B "$build_dir" "${configure[@]}" >/dev/null
  targets=(accelpackd accelpack)
  cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}"
fi

# Where Debian's Slurm keeps its plugins (AP_PLUGIN_DIR), and the cluster functions;
# sourced again per run below with that run's settings.
# shellcheck source=cluster/lib.sh
source "$repo/contrib/cluster/lib.sh"

# Installs sched/accelpack (and its bridge library) into Slurm's plugin dir with
# the plugin's own install-plugin target (it refuses a Slurm version mismatch).
# Returns 1 when this build has no plugin (no configured Slurm source tree): the
# quickstart then runs stock sched/backfill only.
install_plugin() {
  if [ ! -f "$repo/plugin/CMakeLists.txt" ]; then
    echo "quickstart: this tree has no plugin/ yet" >&2
    return 1
  fi
  # (with --no-build too: it only rebuilds what changed, then installs)
  cmake --build "$build_dir" -j"$(nproc)" --target install-plugin || return 1
  [ -f "$AP_PLUGIN_DIR/sched_accelpack.so" ]
}

modes=(accelpack backfill)
[ -n "$only" ] && modes=("$only")
if [[ " ${modes[*]} " == *" accelpack "* ]]; then
  say "installing the Slurm plugin sched/accelpack"
  if ! install_plugin; then
    echo "quickstart: sched/accelpack is not available; running stock sched/backfill only" >&2
    modes=(backfill)
  fi
fi

# --- 2./3. one run per scheduler -------------------------------------------------
summaries=()
for mode in "${modes[@]}"; do
  run="$base/$mode"
  export ACCELPACK_RUN_DIR="$run" ACCELPACK_MODE="$mode" ACCELPACK_BUILD_DIR="$build_dir"
  # shellcheck source=cluster/lib.sh
  source "$repo/contrib/cluster/lib.sh"
  say "[$mode] bringing up the cluster in $run"
  ap_refuse_running  # a cluster kept by an earlier --keep run is not this run's to stop
  current_run="$run"
  ap_cluster_up
  sinfo -o '%10P %5D %8t %12G %N' | sed 's/^/   /'

  say "[$mode] submitting the mixed workload (plain sbatch)${ACCELPACK_FRACTIONAL:+, with fractional inference}"
  bash "$repo/contrib/cluster/workload.sh" "$run/workload.jobs"
  if ! ap_wait_jobs "$run/workload.jobs" 900 "$mode"; then
    echo "quickstart: [$mode] workload did not finish in 900 s; its jobs left are cancelled" >&2
    # shellcheck disable=SC2046
    scancel --quiet $(cut -d' ' -f1 "$run/workload.jobs") 2>/dev/null || true
    ap_wait_queue_empty 60 || true
  fi

  say "[$mode] where each job ran"
  python3 "$repo/contrib/cluster/report.py" run "$run/workload.jobs" "$run/summary.json" --label "$mode" \
    || echo "quickstart: [$mode] some jobs did not complete (see above)" >&2

  say "[$mode] submit-to-start latency, $latency_jobs jobs one at a time on the idle cluster"
  bash "$repo/contrib/cluster/latency.sh" "$latency_jobs" gpu:h100:1 "$run/latency.txt" | tee "$run/latency.summary"
  python3 - "$run/summary.json" "$run/latency.txt" <<'EOF'
import json, statistics, sys
s = json.load(open(sys.argv[1]))
v = [float(x) for x in open(sys.argv[2]) if x.strip()]
s["latency"] = {"n": len(v), "mean": statistics.fmean(v), "p50": statistics.median(v), "max": max(v)} if v else {}
json.dump(s, open(sys.argv[1], "w"), indent=1)
EOF
  if [ "$mode" = accelpack ] && grep -q 'accelpack: core unavailable' "$run/log/slurmctld.log"; then
    echo "   note: the plugin used its built-in policy at times (see $run/log/slurmctld.log)"
  fi
  summaries+=("$run/summary.json")
  if [ "$keep" -eq 0 ] || [ "$mode" != "${modes[-1]}" ]; then
    bash "$repo/contrib/cluster/down.sh"
    current_run=""
  fi
done

# --- 4. side by side -------------------------------------------------------------
say "results (same workload, same cluster)"
python3 "$repo/contrib/cluster/report.py" compare "${summaries[@]}"
echo
echo "logs and job records: ${summaries[*]%/summary.json}"
if [ "$keep" -eq 1 ]; then
  echo "cluster left running: source $base/${modes[-1]}/env.sh"
  echo "stop it: ACCELPACK_RUN_DIR=$base/${modes[-1]} bash $repo/contrib/cluster/down.sh"
fi
exit 0
