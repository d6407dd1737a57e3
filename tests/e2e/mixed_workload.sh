#!/usr/bin/env bash
# A mixed workload under sched/accelpack + accelpackd: every job completes
# (nothing lost), every job was started by the plugin on exactly the nodes the
# core chose (the plugin's "started JobId=N on NODES ... (core)" log line equals
# the job's NodeList), and nothing else started any job.
#   mixed_workload.sh BUILD_DIR [quickstart|mixed|fractional]
# quickstart: contrib/cluster/workload.sh; mixed: contrib/cluster/workload-mixed.sh
# (arrays, holds, dependencies, -w, --exclusive, untyped GRES, a drained node);
# fractional: the quickstart workload on the fractional cluster (quickstart.sh
# --fractional: shard and MIG inference jobs), whose utilization counts a MIG slice
# as its share of an H100 and a shard as its share of an H200.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
workload=${2:-quickstart}
[ "$workload" = fractional ] && export ACCELPACK_FRACTIONAL=1
e2e_init accelpack "${1:-}"

case "$workload" in
  quickstart | fractional) script="$E2E_REPO/contrib/cluster/workload.sh" ;;
  mixed) script="$E2E_REPO/contrib/cluster/workload-mixed.sh" ;;
  *) e2e_fail "unknown workload '$workload'" ;;
esac
ACCELPACK_WORKLOAD_SCALE=${ACCELPACK_WORKLOAD_SCALE:-50} ACCELPACK_WORKLOAD_HOLD_S=10 \
  bash "$script" "$AP_RUN_DIR/workload.jobs"
ap_wait_jobs "$AP_RUN_DIR/workload.jobs" 400 mixed || e2e_fail "workload did not finish in 400 s (normally about 60 s)"
python3 "$E2E_REPO/contrib/cluster/report.py" run "$AP_RUN_DIR/workload.jobs" "$AP_RUN_DIR/summary.json" --label accelpack \
  || e2e_fail "not every job completed"
e2e_log "every workload job completed ($(wc -l <"$AP_RUN_DIR/workload.jobs") jobs)"
e2e_check "job completion log has every job" test "$(wc -l <"$AP_RUN_DIR/log/jobcomp.txt")" -eq "$(wc -l <"$AP_RUN_DIR/workload.jobs")"

# Array tasks are listed as ARRAY_TASK; the plugin logs their own job ids.
mapfile -t ids < <(awk '{ print $1 }' "$AP_RUN_DIR/workload.jobs" | while read -r id; do
  if [[ "$id" == *_* ]]; then e2e_field "$id" JobId; else echo "$id"; fi
done)
e2e_check "every job was started by the plugin on the nodes it ran on" e2e_check_started_by_plugin "${ids[@]}"
starts=$(grep -c 'accelpack: started JobId=' "$AP_RUN_DIR/log/slurmctld.log" || true)
e2e_check "no job started twice ($starts starts for ${#ids[@]} jobs)" test "$starts" -eq "${#ids[@]}"
from_core=$(grep -c 'accelpack: started JobId=.*(core)' "$AP_RUN_DIR/log/slurmctld.log" || true)
e2e_check "the core placed every job ($from_core of ${#ids[@]}; none by the built-in policy)" test "$from_core" -eq "${#ids[@]}"
e2e_check "no plan/placement mismatch logged" bash -c "! grep -q 'but the plan said' '$AP_RUN_DIR/log/slurmctld.log'"
# Slurm's own schedulers are off: no job says it was started by backfill.
e2e_check "no job started by Slurm's backfill" bash -c "! scontrol show job -o | grep -q 'Scheduler=Backfill'"
python3 - "$AP_RUN_DIR/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"utilization {100*s['utilization']:.1f} %, makespan {s['makespan_s']:.0f} s, "
      f"delay inference mean {s['delay']['inference']['mean']:.1f} s, training mean {s['delay']['training']['mean']:.1f} s")
PY
if [ "$workload" = fractional ]; then
  shares=$(grep -cE ' (shard|1g\.10gb|3g\.40gb) ' "$AP_RUN_DIR/workload.jobs" || true)
  e2e_check "the workload has fractional inference jobs ($shares)" test "$shares" -gt 0
  # h100: h100-1 whole (8) and h100-2's 14 x 1g.10gb + 4 x 3g.40gb (4 GPUs); shards add
  # no capacity (they share the H200s); no kind can be more than fully used.
  e2e_check "capacity counts MIG slices as GPU shares" python3 - "$AP_RUN_DIR/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
cap = s["capacity"]
assert abs(cap["h100"] - 12) < 1e-6 and cap["h200"] == 16, cap
assert all(0 < u <= 1.0 for u in s["utilization_by_kind"].values()), s["utilization_by_kind"]
print("capacity", cap, "utilization by kind",
      {k: round(100 * v, 1) for k, v in s["utilization_by_kind"].items()})
PY
fi
e2e_log "passed"
