#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# accelpack-sim refuses bad arguments at once (exit 1, a message naming the flag),
# before reading any trace: issue 12, finding 6. Usage: cli_test.sh ACCELPACK_SIM
set -u
sim="$1"
fails=0
# expect_refused PATTERN ARGS...: the run must fail within 10 s and print PATTERN.
expect_refused() {
  local pattern="$1"
  shift
  local out rc
  out="$(timeout 10 "$sim" "$@" --traces /nonexistent --out /nonexistent 2>&1)"
  rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || ! grep -qF -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> rc $rc: $out (wanted: $pattern)"
    fails=$((fails + 1))
  fi
}
expect_refused "count must be a number in 1..20000, got \"99999999\"" dynamic --cluster h100:99999999
expect_refused "nodes in all, more than 20000" dynamic --cluster h100:15000,ascend910b:15000
expect_refused "--cluster h100:x: count must be a number" dynamic --cluster h100:x
expect_refused "unknown kind \"tpu\"" dynamic --cluster tpu:4
expect_refused "--load: 1e-308 outside 0.01..10" dynamic --load 1e-308
expect_refused "--load: nan outside" dynamic --load nan
expect_refused "the speed of h100 must be a number in 0.01..1000, got \"0\"" dynamic --speed h100=0
expect_refused "got \"nan\"" dynamic --speed h100=nan
expect_refused "got \"inf\"" dynamic --speed h100=inf
expect_refused "--speed: unknown kind \"h999\"" dynamic --speed h999=1
expect_refused "the share of dlrm must be a number in 0..1000000, got \"-0.5\"" dynamic --mix openb=1,dlrm=-0.5
expect_refused "--mix: at least one share must be > 0" dynamic --mix openb=0,dlrm=0,kalos=0
expect_refused "--types: unknown source \"k8s\"" dynamic --types k8s=h100
expect_refused "--cycle-interval: 0 s outside 1..86400" dynamic --cycle-interval 0
expect_refused "--cycle-interval: -5 s outside" dynamic --cycle-interval -5
expect_refused "--jobs: 0 outside" dynamic --jobs 0
expect_refused "--seeds: expected N, N-M or a comma list, got \"5-1\"" dynamic --seeds 5-1
expect_refused "--seed excludes --seeds" dynamic --seed 2 --seeds 1-3

# --mix, --speed and --types change only what they name; the rest keep the defaults
# (a partial --types once dropped DLRM's NVIDIA-only default). Needs the traces.
traces="${ACCELPACK_TRACES:-$(dirname "$0")/../../../shared/traces}"
if [ -d "$traces" ]; then
  out="$(mktemp -d)"
  if ! timeout 60 "$sim" dynamic --traces "$traces" --jobs 40 --policy slurm-default \
    --speed h100=2 --types openb=h100,kalos=any --out "$out" >"$out/log" 2>&1; then
    echo "FAIL: the partial --speed/--types run: $(tail -3 "$out/log")"
    fails=$((fails + 1))
  elif ! python3 - "$out/dynamic.json" <<'PY'; then
import json, sys
report = json.load(open(sys.argv[1]))
speed, generator = report["speed"], report["generator"]
assert speed["h100"] == 2 and speed["h200"] == 1.3 and speed["ascend910b"] == 0.8, speed
assert generator["allowed_types[openb]"] == "h100", generator
assert generator["allowed_types[dlrm]"] == "h100|h200|h800|h20", generator
assert generator["allowed_types[kalos]"] == "any", generator
PY
    echo "FAIL: a partial --speed/--types replaced the defaults: $(cat "$out/dynamic.json" | head -c 600)"
    fails=$((fails + 1))
  fi
  rm -rf "$out"
else
  echo "skipped the defaults-merge check: no traces at $traces"
fi

[ "$fails" -eq 0 ] && echo "all checks passed"
exit "$fails"
