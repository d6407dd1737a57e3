#!/usr/bin/env bash
# Submits accelpack's mixed demo workload to the running cluster with plain sbatch.
#
#   contrib/cluster/workload.sh [JOBLIST]
#
# Every job is an ordinary batch script (#SBATCH --gres=gpu:h100:1 ...) that
# sleeps a few seconds. The mix, in a fixed pseudo-random order (same seed, same
# workload, so two schedulers can be compared):
#   inference: many 1-2 device jobs on every kind (h100, h200, 910b, 910c)
#   training:  8-device single-node jobs and 2-node x 8-device gangs, both vendors
#   fractional inference (on a cluster started with ACCELPACK_FRACTIONAL=1 only):
#              1-2 shards of an H200 (--gres=shard:N) and MIG slices of an H100
#              (gpu:1g.10gb, gpu:3g.40gb); there is one whole H100 node then, so the
#              2-node H100 gang is left out
# Writes one line per job to JOBLIST (default $ACCELPACK_RUN_DIR/workload.jobs):
#   JOBID CLASS KIND DEVICES_PER_NODE NODES SECONDS NAME
#
# Settings: ACCELPACK_WORKLOAD_SEED (default 42), ACCELPACK_WORKLOAD_SCALE
# (percent applied to every sleep, default 100), ACCELPACK_WORKLOAD_INFERENCE
# (number of inference jobs, default 40), ACCELPACK_WORKLOAD_FRACTIONAL (number
# of fractional inference jobs with ACCELPACK_FRACTIONAL=1, default 24),
# ACCELPACK_WORKLOAD_USER (submit as this user instead of the caller).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

joblist=${1:-$AP_RUN_DIR/workload.jobs}
seed=${ACCELPACK_WORKLOAD_SEED:-42}
scale=${ACCELPACK_WORKLOAD_SCALE:-100}
n_inference=${ACCELPACK_WORKLOAD_INFERENCE:-40}
user=${ACCELPACK_WORKLOAD_USER:-}
scripts="$AP_RUN_DIR/jobs/workload"
install -d -m 0755 "$scripts"

RANDOM=$seed
kinds=(gpu:h100 gpu:h200 npu:910b npu:910c)
specs=()  # CLASS KIND DEVICES NODES SECONDS
for ((i = 0; i < n_inference; i++)); do
  specs+=("inference ${kinds[RANDOM % 4]} $((1 + RANDOM % 2)) 1 $((8 + RANDOM % 17))")
done
fractional=${ACCELPACK_FRACTIONAL:-}
for k in "${kinds[@]}"; do
  for j in 1 2; do specs+=("training $k 8 1 $((20 + RANDOM % 11))"); done
  [ "$fractional" = 1 ] && [ "$k" = gpu:h100 ] && continue  # one whole H100 node
  specs+=("training $k 8 2 $((20 + RANDOM % 11))")
done
if [ "$fractional" = 1 ]; then
  shares=(shard shard gpu:1g.10gb gpu:3g.40gb)
  for ((i = 0; i < ${ACCELPACK_WORKLOAD_FRACTIONAL:-24}; i++)); do
    share=${shares[RANDOM % 4]}
    specs+=("inference $share $((1 + RANDOM % 2)) 1 $((8 + RANDOM % 17))")
  done
fi
# Deterministic shuffle (Fisher-Yates on the seeded RANDOM).
for ((i = ${#specs[@]} - 1; i > 0; i--)); do
  j=$((RANDOM % (i + 1))); t=${specs[i]}; specs[i]=${specs[j]}; specs[j]=$t
done

: >"$joblist"
n=0
for spec in "${specs[@]}"; do
  read -r class kind devices nodes seconds <<<"$spec"
  seconds=$((seconds * scale / 100)); [ "$seconds" -ge 1 ] || seconds=1
  n=$((n + 1))
  name=$(printf '%s-%s-%sx%s-%02d' "${class:0:3}" "${kind#*:}" "$nodes" "$devices" "$n")
  run="sleep $seconds"
  [ "$nodes" -gt 1 ] && run="srun sleep $seconds"   # a gang: one step on every node
  cat >"$scripts/$name.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=$name
#SBATCH --partition=$class
#SBATCH --nodes=$nodes
#SBATCH --gres=$kind:$devices
#SBATCH --time=$(( (seconds + 59) / 60 + 1 ))
#SBATCH --output=$AP_RUN_DIR/jobs/%j.out
$run
EOF
  chmod 0644 "$scripts/$name.sbatch"
  if [ -n "$user" ]; then
    id=$(runuser -u "$user" -- env SLURM_CONF="$SLURM_CONF" sbatch --parsable "$scripts/$name.sbatch")
  else
    id=$(sbatch --parsable "$scripts/$name.sbatch")
  fi
  echo "$id $class ${kind#*:} $devices $nodes $seconds $name" >>"$joblist"
done
echo "workload: submitted $n jobs ($(grep -c ' inference ' "$joblist") inference, $(grep -c ' training ' "$joblist") training) -> $joblist" >&2
