#!/usr/bin/env bash
# Submits a larger mixed workload that uses what real sites submit every week,
# with plain sbatch, to the running cluster. Same seed, same workload: two
# schedulers can be compared on it (contrib/cluster/ab.sh does that).
#
#   contrib/cluster/workload-mixed.sh [JOBLIST]
#
# Before submitting it drains one node (h200-2, "maintenance"; it stays drained,
# the run's capacity leaves it out). The jobs, in a fixed pseudo-random order:
#   inference   1-2 device jobs on h100, h200 and 910c, most with tight time limits
#   untyped     --gres=gpu:2 (any NVIDIA node)
#   910b        1-8 devices, time limits tight or the partition's default
#   arrays      --array: 8 tasks of 1 H100, 4 tasks of 2 910C
#   exclusive   --exclusive with 2-4 devices (the node is theirs)
#   pinned      -w NODE (one 6-GPU job on h100-1, the issue's case)
#   training    8-device single-node jobs and 2-node x 8-device gangs (H100, 910C)
#   chains      two jobs depending on a training job (--dependency=afterok)
#   held        submitted with -H, released HOLD_S seconds later
# Every job sleeps a few seconds. Writes one line per job (array tasks as
# ID_TASK) to JOBLIST (default $ACCELPACK_RUN_DIR/workload.jobs):
#   JOBID CLASS KIND DEVICES_PER_NODE NODES SECONDS NAME
# KIND "gpu" means any NVIDIA model (report.py reads it off the node), and
# JOBLIST.meta records the devices available per kind (report.py's capacity).
#
# Settings: ACCELPACK_WORKLOAD_SEED (default 7), ACCELPACK_WORKLOAD_SCALE
# (percent applied to every sleep, default 100), ACCELPACK_WORKLOAD_HOLD_S
# (default 20), ACCELPACK_WORKLOAD_DRAIN (node to drain, default h200-2; "none"
# drains nothing).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

joblist=${1:-$AP_RUN_DIR/workload.jobs}
seed=${ACCELPACK_WORKLOAD_SEED:-7}
scale=${ACCELPACK_WORKLOAD_SCALE:-100}
hold_s=${ACCELPACK_WORKLOAD_HOLD_S:-20}
drain=${ACCELPACK_WORKLOAD_DRAIN:-h200-2}
scripts="$AP_RUN_DIR/jobs/workload-mixed"
install -d -m 0755 "$scripts"

RANDOM=$seed
# rand LO HI: a number in [LO, HI] into $R. Not $(...): a subshell reseeds RANDOM.
rand() { R=$(($1 + RANDOM % ($2 - $1 + 1))); }

# One spec per submission: NAME|CLASS|KIND|DEVICES|NODES|SECONDS|TIME_MIN|SBATCH-OPTIONS
# (TIME_MIN "-" = the partition's default limit; KIND as in --gres, "gpu" untyped).
specs=()
add() {  # add NAME CLASS KIND DEVICES NODES SECONDS_LO SECONDS_HI TIME_MIN [OPTIONS]
  rand "$6" "$7"
  specs+=("$1|$2|$3|$4|$5|$R|$8|${9:-}")
}
inference_kinds=(gpu:h100 gpu:h200 npu:910c)
for ((i = 0; i < 24; i++)); do
  kind=${inference_kinds[RANDOM % 3]}; rand 1 2; devices=$R
  limit=1; [ $((RANDOM % 4)) -eq 0 ] && limit=30
  add inf inference "$kind" "$devices" 1 8 24 "$limit"
done
for ((i = 0; i < 6; i++)); do add untyped inference gpu 2 1 10 20 1; done
for ((i = 0; i < 10; i++)); do
  rand 1 8; devices=$R; class=inference; [ "$devices" -ge 4 ] && class=training
  limit=2; [ $((RANDOM % 2)) -eq 0 ] && limit=-
  add 910b "$class" npu:910b "$devices" 1 10 30 "$limit"
done
add array inference gpu:h100 1 1 10 16 1 "--array=0-7"
add array inference npu:910c 2 1 10 16 1 "--array=0-3"
add excl inference gpu:h100 4 1 15 25 1 "--exclusive"
add excl inference gpu:h200 2 1 15 25 1 "--exclusive"
add excl training npu:910c 4 1 15 25 2 "--exclusive"
add pinned training gpu:h100 6 1 15 25 1 "-w h100-1"
add pinned inference npu:910c 2 1 10 20 1 "-w a910c-2"
for kind in gpu:h100 gpu:h200 npu:910c; do add train training "$kind" 8 1 20 30 2; done
add train training npu:910b 8 1 20 30 -
add gang training gpu:h100 8 2 20 30 2
add gang training gpu:h100 8 2 20 30 -
add gang training npu:910c 8 2 20 30 2
add gang training npu:910c 8 2 20 30 -
add held inference gpu:h100 2 1 10 20 1 "-H"
add held training npu:910b 4 1 10 20 1 "-H"
add held inference npu:910c 1 1 10 20 1 "-H"
# Deterministic shuffle (Fisher-Yates on the seeded RANDOM).
for ((i = ${#specs[@]} - 1; i > 0; i--)); do
  j=$((RANDOM % (i + 1))); t=${specs[i]}; specs[i]=${specs[j]}; specs[j]=$t
done
# Chains: after the first training job in the shuffled order, in this order.
chain_after=""
rand 10 16; chains=("chain|inference|gpu:h200|1|1|$R|1|")
rand 15 20; chains+=("chain|training|npu:910b|8|1|$R|1|")

if [ "$drain" != none ]; then
  scontrol update NodeName="$drain" State=DRAIN Reason=maintenance
fi
# Devices available per kind: 8 per node that is not drained.
python3 - "$joblist.meta" "$drain" "${AP_NODES[@]}" <<'PY'
import json, re, sys
path, drained, nodes = sys.argv[1], sys.argv[2], sys.argv[3:]
cap = {}
for n in nodes:
    if n == drained:
        continue
    kind = re.sub(r"^a", "", n.rsplit("-", 1)[0])
    cap[kind] = cap.get(kind, 0) + 8
json.dump({"capacity": cap, "drained": drained}, open(path, "w"))
PY

submit() {  # submit NAME-SPEC [EXTRA-SBATCH-OPTION] -> appends to the job list
  local spec=$1 extra=${2:-} name class kind devices nodes seconds time_min opts n id run tasks
  IFS='|' read -r name class kind devices nodes seconds time_min opts <<<"$spec"
  seconds=$((seconds * scale / 100)); [ "$seconds" -ge 1 ] || seconds=1
  n=$(($(wc -l <"$joblist") + 1))
  name=$(printf '%s-%s-%sx%s-%03d' "$name" "${kind#*:}" "$nodes" "$devices" "$n")
  run="sleep $seconds"
  [ "$nodes" -gt 1 ] && run="srun sleep $seconds"
  {
    echo "#!/bin/bash"
    echo "#SBATCH --job-name=$name"
    echo "#SBATCH --partition=$class"
    echo "#SBATCH --nodes=$nodes"
    echo "#SBATCH --gres=$kind:$devices"
    [ "$time_min" != - ] && echo "#SBATCH --time=$time_min"
    echo "#SBATCH --output=$AP_RUN_DIR/jobs/%j.out"
    echo "$run"
  } >"$scripts/$name.sbatch"
  # shellcheck disable=SC2086  # options are words
  id=$(sbatch --parsable $opts $extra "$scripts/$name.sbatch" | cut -d';' -f1)
  if [[ "$opts" =~ --array=0-([0-9]+) ]]; then
    for ((tasks = 0; tasks <= BASH_REMATCH[1]; tasks++)); do
      echo "${id}_$tasks $class ${kind#*:} $devices $nodes $seconds $name" >>"$joblist"
    done
  else
    echo "$id $class ${kind#*:} $devices $nodes $seconds $name" >>"$joblist"
  fi
  last_id=$id
}

: >"$joblist"
held=()
for spec in "${specs[@]}"; do
  submit "$spec"
  [[ "$spec" == *"|-H" ]] && held+=("$last_id")
  if [ -z "$chain_after" ] && [[ "$spec" == train\|* || "$spec" == gang\|* ]]; then
    chain_after=$last_id
    for c in "${chains[@]}"; do submit "$c" "--dependency=afterok:$chain_after"; chain_after=$last_id; done
  fi
done
# Held jobs are released HOLD_S seconds after submission, in the background so
# that the caller can start waiting (ap_wait_jobs) at once.
( sleep "$hold_s"; scontrol release "$(IFS=,; echo "${held[*]}")" ) </dev/null >/dev/null 2>&1 &
echo "workload-mixed: submitted $(wc -l <"$joblist") jobs (array tasks counted), ${#held[@]} held for ${hold_s}s, $drain drained -> $joblist" >&2
