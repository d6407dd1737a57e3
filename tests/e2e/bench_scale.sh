#!/usr/bin/env bash
# Scale and latency on the real cluster (ctest label bench):
#  1. sched/accelpack: submit-to-start latency on the idle cluster (N jobs, one
#     at a time), then 1,000 pending jobs behind a full cluster: the plugin's
#     per-cycle lock hold times from slurmctld's log ("accelpack: cycle ...").
#  2. stock sched/backfill (bf_interval=1), same cluster: the same latency probe.
# Prints a summary, writes it to BUILD_DIR/e2e-results/bench_scale.txt, and
# fails when a goal is missed (lock hold per cycle p99 < 50 ms, latency at least
# 3x lower than backfill), unless ACCELPACK_BENCH_NO_GOALS is set.
#   bench_scale.sh BUILD_DIR
# ACCELPACK_BENCH_PENDING=5000 (or 10000): that many pending jobs instead, figures
# into bench_scale-N.txt, lock hold reported but not asserted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# Every cycle's timings at info level (default: every 100th, or when slow). Nothing
# changes while the queue waits, so cycles would rest for IdleReplanMs (5 s): re-plan
# every 0.5 s instead, for enough samples of the lock hold.
export ACCELPACK_PLUGIN_CONF_EXTRA="StatsEveryCycles=1
IdleReplanMs=${ACCELPACK_BENCH_IDLE_REPLAN_MS:-500}"
e2e_init accelpack "${1:-}"
n_lat=${ACCELPACK_BENCH_LATENCY_JOBS:-30}
n_pending=${ACCELPACK_BENCH_PENDING:-1000}
results_dir="$ACCELPACK_BUILD_DIR/e2e-results"
# A Slurm under a prefix (another release) keeps its own figures.
[ -n "${ACCELPACK_SLURM_PREFIX:-}" ] && results_dir="$results_dir/slurm-$(ap_slurm_version)"
mkdir -p "$results_dir"
out="$results_dir/bench_scale.txt"
[ "$n_pending" = 1000 ] || out="$results_dir/bench_scale-$n_pending.txt"

# --- accelpack: latency ----------------------------------------------------------
lat_ap=$("$E2E_REPO/contrib/cluster/latency.sh" "$n_lat" gpu:h100:1 "$AP_RUN_DIR/latency-accelpack.txt")
e2e_log "accelpack: $lat_ap"

# --- accelpack: 1,000 pending jobs -----------------------------------------------
# Fill every device so that nothing new can start, then queue a realistic mix.
fill=()
for k in gpu:h100 gpu:h200 npu:910b npu:910c; do
  for i in 1 2; do fill+=("$(e2e_submit -J fill -p training --gres="$k:8" --wrap 'sleep 900')"); done
done
for id in "${fill[@]}"; do e2e_wait_state "$id" RUNNING 60 || e2e_fail "fill job $id did not start"; done
e2e_log "cluster full; submitting $n_pending jobs"
t0=$(date +%s)
submit_part() {  # PART OF: submit jobs i = PART, PART+OF, ... (parallel sbatch clients)
  local i kinds=(gpu:h100 gpu:h200 npu:910b npu:910c) parts=(inference inference inference training)
  for ((i = $1; i < n_pending; i += $2)); do
    sbatch --parsable --chdir=/tmp --output=/dev/null -J "q$i" -p "${parts[i % 4]}" \
      --gres="${kinds[(i / 4) % 4]}:$(( (i % 4 == 3) ? 8 : 1 + i % 2 ))" --time=10 --wrap 'sleep 1' >/dev/null
  done
}
submitters=()
for p in 0 1 2 3; do submit_part "$p" 4 & submitters+=($!); done
wait "${submitters[@]}"   # not a bare wait: the cluster's daemons are children too
e2e_log "submitted $n_pending jobs in $(( $(date +%s) - t0 )) s; $(squeue -h -t PD -o %i | wc -l) pending"
mark=$(wc -l <"$AP_RUN_DIR/log/slurmctld.log")
sleep "${ACCELPACK_BENCH_OBSERVE_S:-20}"
# Lock hold per cycle = snapshot hold + apply hold (both may yield in between); the
# longest single hold is what slurmctld's RPCs wait for.
# accelpack: cycle N: snapshot A ms, core B ms, apply C ms (max hold D ms, E on CPU, Y yields), started S, dropped X, pending P, ..., sent K R records (copy: longest hold L ms, M on CPU, ...)
# "on CPU": the same holds in the agent thread's CPU time, without the time it waited
# for a CPU while holding the locks (this machine's other work).
cycles=$(tail -n +"$mark" "$AP_RUN_DIR/log/slurmctld.log" \
  | sed -n 's/.*accelpack: cycle [0-9]*: snapshot \([0-9.]*\) ms, \([a-z-]*\) \([0-9.]*\) ms, apply \([0-9.]*\) ms (max hold \([0-9.]*\) ms, \([0-9.]*\) on CPU.*pending \([0-9]*\).*copy: longest hold \([0-9.]*\) ms, \([0-9.]*\) on CPU.*/\1 \3 \4 \5 \7 \2 \8 \6 \9/p' \
  | awk -v n="$n_pending" '$5 >= n')
[ -n "$cycles" ] || e2e_fail "no 'accelpack: cycle' lines with >= $n_pending pending jobs in slurmctld.log"
cp "$AP_RUN_DIR/log/slurmctld.log" "$results_dir/bench_scale-slurmctld.log"
lock_stats=$(awk '
  { snap[NR] = $1; core[NR] = $2; hold[NR] = $1 + $3; longest[NR] = ($7 > $4 ? $7 : $4); apply[NR] = $3
    cpu[NR] = ($9 > $8 ? $9 : $8) }
  function pct(a, n, q,   i, j, t, s) { for (i = 1; i <= n; i++) s[i] = a[i]
    for (i = 2; i <= n; i++) { t = s[i]; for (j = i - 1; j >= 1 && s[j] > t; j--) s[j + 1] = s[j]; s[j + 1] = t }
    return s[int((n - 1) * q) + 1] }
  END { printf "cycles=%d lock_hold_ms p50=%.2f p99=%.2f max=%.2f | longest_single_hold_ms p50=%.2f p99=%.2f max=%.2f | longest_hold_on_cpu_ms p50=%.2f p99=%.2f max=%.2f | snapshot_ms p50=%.2f max=%.2f | apply_ms p50=%.2f max=%.2f | core_call_ms p50=%.2f max=%.2f\n",
        NR, pct(hold, NR, .5), pct(hold, NR, .99), pct(hold, NR, 1), pct(longest, NR, .5), pct(longest, NR, .99), pct(longest, NR, 1), pct(cpu, NR, .5), pct(cpu, NR, .99), pct(cpu, NR, 1), pct(snap, NR, .5), pct(snap, NR, 1),
        pct(apply, NR, .5), pct(apply, NR, 1), pct(core, NR, .5), pct(core, NR, 1) }' <<<"$cycles")
sources=$(awk '{ print $6 }' <<<"$cycles" | sort | uniq -c | tr -s ' ' | tr '\n' ',')
e2e_log "accelpack with $n_pending pending: $lock_stats (plans from:$sources)"
lock_p99=$(sed -n 's/.*lock_hold_ms p50=[0-9.]* p99=\([0-9.]*\).*/\1/p' <<<"$lock_stats")

# --- stock backfill: same cluster, same probe -------------------------------------
ap_cluster_down
export ACCELPACK_MODE=backfill
AP_MODE=backfill
ap_cluster_up
lat_bf=$("$E2E_REPO/contrib/cluster/latency.sh" "$n_lat" gpu:h100:1 "$AP_RUN_DIR/latency-backfill.txt")
e2e_log "backfill: $lat_bf"

p50() { sed -n 's/.* p50=\([0-9.]*\).*/\1/p' <<<"$1"; }
mean() { sed -n 's/.* mean=\([0-9.]*\).*/\1/p' <<<"$1"; }
ratio=$(awk -v a="$(p50 "$lat_ap")" -v b="$(p50 "$lat_bf")" 'BEGIN { printf "%.1f", (a > 0) ? b / a : 0 }')
ratio_mean=$(awk -v a="$(mean "$lat_ap")" -v b="$(mean "$lat_bf")" 'BEGIN { printf "%.1f", (a > 0) ? b / a : 0 }')
{
  echo "bench_scale $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) ($(nproc) CPUs), Slurm $(slurmctld -V | cut -d' ' -f2)"
  echo "submit-to-start latency, $n_lat jobs one at a time, idle cluster:"
  echo "  sched/accelpack: $lat_ap"
  echo "  sched/backfill:  $lat_bf"
  echo "  backfill/accelpack: p50 ${ratio}x, mean ${ratio_mean}x"
  echo "lock hold per cycle with $n_pending pending jobs (sched/accelpack):"
  echo "  $lock_stats"
  echo "  plans from:$sources"
} | tee "$out"

# Generous bounds always hold (measured: p99 8-13 ms, 3.7-5.1x); the 3x goal itself
# is asserted only where timing is trusted (ACCELPACK_BENCH_NO_GOALS unset).
# Larger queues (ACCELPACK_BENCH_PENDING) are measured for docs/benchmarks.md, not asserted.
if [ "$n_pending" -le 1000 ]; then
  e2e_check "lock hold per cycle p99 ${lock_p99} ms < 50 ms" awk -v v="$lock_p99" 'BEGIN { exit !(v < 50) }'
fi
e2e_check "submit-to-start faster than backfill (${ratio}x)" awk -v v="$ratio" 'BEGIN { exit !(v > 1) }'
if [ -z "${ACCELPACK_BENCH_NO_GOALS:-}" ]; then
  e2e_check "submit-to-start ${ratio}x faster than backfill (goal >= 3x)" awk -v v="$ratio" 'BEGIN { exit !(v >= 3) }'
fi
e2e_log "passed"
