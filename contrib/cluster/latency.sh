#!/usr/bin/env bash
# Submit-to-start latency on the running (idle) cluster, sub-second resolution.
#
#   contrib/cluster/latency.sh [N] [GRES] [OUTFILE]
#
# Submits N single-device batch jobs one after another (each waits for the
# previous one to start), measuring from just before sbatch to the moment the
# job's script runs (it writes `date +%s.%N`; same host, same clock). Prints
#   latency_s n=N mean=... p50=... p90=... max=...
# and writes one latency per line to OUTFILE (default $ACCELPACK_RUN_DIR/latency.txt).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=${1:-20}
gres=${2:-gpu:h100:1}
out=${3:-$AP_RUN_DIR/latency.txt}
dir="$AP_RUN_DIR/jobs/latency"
install -d -m 0777 "$dir"
script="$dir/probe.sbatch"
cat >"$script" <<EOF
#!/bin/bash
#SBATCH --job-name=latency-probe
#SBATCH --gres=$gres
#SBATCH --time=1
#SBATCH --output=/dev/null
date +%s.%N >"$dir/\$SLURM_JOB_ID.start"
EOF
: >"$out"
for ((i = 0; i < n; i++)); do
  t0=$(date +%s.%N)
  id=$(sbatch --parsable "$script")
  for ((w = 0; w < 3000; w++)); do   # up to 30 s
    [ -s "$dir/$id.start" ] && break
    sleep 0.01
  done
  [ -s "$dir/$id.start" ] || { echo "latency: job $id did not start in 30 s" >&2; exit 1; }
  awk -v a="$t0" '{ printf "%.3f\n", $1 - a }' "$dir/$id.start" >>"$out"
done
sort -n "$out" | awk '{ v[NR] = $1; s += $1 } END {
  p50 = v[int((NR + 1) / 2)]; p90 = v[int(NR * 0.9 + 0.5)]
  printf "latency_s n=%d mean=%.3f p50=%.3f p90=%.3f max=%.3f\n", NR, s / NR, p50, p90, v[NR] }'
