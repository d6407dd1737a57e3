#!/usr/bin/env bash
# The operators' commands against a real accelpackd fed one snapshot over gRPC
# (as the plugin sends it): explain, nodes, decisions, stats, policy show
# --running, /metrics (promtool when installed), accelpack.conf's CoreAddress,
# options after the command, and the exit codes of bad requests.
#   operator_cli_test.sh ACCELPACKD ACCELPACK FEED_SNAPSHOT SNAPSHOT_JSON
set -euo pipefail
daemon=$1 cli=$2 feed=$3 snapshot=$4
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect RC PATTERN CMD...: exit code and a line of stdout+stderr
  local want=$1 pattern=$2 rc=0; shift 2
  "$@" >"$dir/out" 2>&1 || rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, wanted $want: $(cat "$dir/out")"
  grep -Eq -- "$pattern" "$dir/out" || fail "'$*' does not print '$pattern': $(cat "$dir/out")"
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

expect 1 "cannot parse|HOST:PORT" "$daemon" --socket "$dir/x.sock" --metrics-listen nonsense
printf 'name: first\n' >"$dir/policy.yaml"
"$daemon" --socket "$dir/core.sock" --policy "$dir/policy.yaml" --metrics-listen "127.0.0.1:$port" \
  --decision-log "$dir/decisions.jsonl" 2>"$dir/log" & pid=$!
for _ in $(seq 100); do [ -S "$dir/core.sock" ] && break; sleep 0.1; done
# The CLI finds the core through accelpack.conf beside slurm.conf, as on a configured cluster.
printf '# plugin settings\nCoreAddress = unix:%s/core.sock  # the core\n' "$dir" >"$dir/accelpack.conf"
export SLURM_CONF=$dir/slurm.conf
expect 4 "no scheduling cycle yet" "$cli" explain 4711
"$feed" "unix:$dir/core.sock" <"$snapshot" >"$dir/plan.json"

expect 0 "started this cycle on h100-1" "$cli" explain 4711
expect 0 "NeverFits" "$cli" explain 4712
grep -q "fewer devices than requested" "$dir/out" || fail "explain 4712: no static reason"
expect 0 "device count not legal" "$cli" explain 4713 --candidates 1
expect 1 "job 999 is not pending" "$cli" explain 999
expect 1 "job 812 is running, not pending" "$cli" explain 812
expect 2 "jobid is required" "$cli" explain
# Options after the command, as in Slurm's commands.
expect 3 "cannot reach accelpackd at unix:$dir/none.sock" "$cli" status --socket "$dir/none.sock"
expect 0 "IDLE-WHILE-WANTED" "$cli" status
# 4712 (9 GPUs) and 4713 (3 910C dies) can never run: nothing is "wanted".
"$cli" status --json | python3 -c '
import json,sys; d=json.load(sys.stdin)
k={x["kind"]: x for x in d["kinds"]}
assert k["h100"]["devices_idle"]==10 and k["h100"]["devices_idle_while_demanded"]==0, k
assert k["ascend910c"]["devices_unusable"]==16, k'

expect 0 "^h100-1 +mixed" "$cli" nodes
grep -Eq "^h100-1 +mixed .* h100 +8 +6 +2 +1 " "$dir/out" || fail "nodes: h100-1 after the start: $(cat "$dir/out")"
grep -Eq "^h100-2 +idle .* h100 +8 +0 +8 +0 " "$dir/out" || fail "nodes: h100-2: $(cat "$dir/out")"
expect 0 "^a910c-1 +16$" "$cli" nodes --state drained -o node,devices -h
[ "$(wc -l <"$dir/out")" -eq 1 ] || fail "nodes --state drained: $(cat "$dir/out")"
expect 2 'unknown column "bogus"' "$cli" nodes -o node,bogus
# FRAG: the queue's runnable shape (2 GPUs, 8 CPUs) cannot use h100-1's half-free
# device; the never-fitting shapes do not count; a drained node has none.
"$cli" nodes --json | python3 -c '
import json,sys
pools={n["name"]: n["pools"][0] for n in json.load(sys.stdin)["nodes"]}
assert abs(pools["h100-1"]["fragmentation"]-0.5) < 1e-9, pools
assert pools["h100-2"]["fragmentation"]==0 and pools["a910c-1"]["fragmentation"]==0, pools' \
  || fail "nodes: fragmentation"
expect 0 "^h100 +10 +0$" "$cli" status -o kind,idle,idle-while-wanted -h
# h100-1: 2.5 devices free, 8 CPUs left feed one (8 per device): 1.5 stranded.
expect 0 '"stranded": 1.5' "$cli" nodes --kind h100 --json
expect 0 "4711 +start +h100-1 devices" "$cli" decisions
expect 0 "^reason +0/3 nodes fit" "$cli" decisions --job 4712 -o what,detail -h
[ "$(grep -c '"what":' "$dir/decisions.jsonl")" -ge 3 ] || fail "audit log: $(cat "$dir/decisions.jsonl")"
expect 0 "lock hold \(controller\) +1800 us" "$cli" stats
expect 0 "^name: first" "$cli" policy show --running

curl -sf "http://127.0.0.1:$port/metrics" >"$dir/metrics"
grep -q 'accelpack_devices_idle{node="h100-1",kind="h100"} 2' "$dir/metrics" || fail "metrics: $(grep idle "$dir/metrics")"
grep -q 'accelpack_devices_unusable{node="a910c-1",kind="ascend910c"} 16' "$dir/metrics" || fail "metrics: unusable"
grep -q 'accelpack_pending_jobs{class="inference",reason="NeverFits"} 2' "$dir/metrics" || fail "metrics: pending"
grep -q 'accelpack_controller_lock_hold_seconds 0.0018' "$dir/metrics" || fail "metrics: lock hold"
grep -q 'accelpack_starts_total{kind="h100"} 1' "$dir/metrics" || fail "metrics: starts"
! grep -Eq '(job|job_id|jobid)="' "$dir/metrics" || fail "metrics carry a per-job label"
if command -v promtool >/dev/null; then
  promtool check metrics <"$dir/metrics" >"$dir/promtool" 2>&1 || fail "promtool: $(cat "$dir/promtool")"
  [ ! -s "$dir/promtool" ] || fail "promtool: $(cat "$dir/promtool")"
fi

# A bad policy on SIGHUP is refused and counted; the daemon keeps answering.
printf 'scorers: [{name: nope}]\n' >"$dir/policy.yaml"
kill -HUP "$pid"
reloads() { curl -sf "http://127.0.0.1:$port/metrics" >"$dir/metrics2"; grep -q 'accelpack_policy_reloads_total{result="error"} 1' "$dir/metrics2"; }
for _ in $(seq 100); do reloads && break; sleep 0.1; done
reloads || fail "reload failure not counted: $(grep reloads "$dir/metrics2")"
expect 0 "policy \"first\"" "$cli" status

# A snapshot older than --max-age is refused as stale.
sleep 2
expect 4 "stale snapshot: the last cycle was [0-9]+ s ago \(limit 1 s\)" "$cli" explain 4712 --max-age 1
echo "operator_cli_test: passed"
