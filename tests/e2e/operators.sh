#!/usr/bin/env bash
# The operators' views on the real cluster: `accelpack explain` for a job
# pending for devices, behind a reservation, for 910C modules and one that can
# never fit; `decisions` shows the starts; `policy diff` shows a difference for
# a policy that changes a placement and none for the same policy; bad input
# gets a clear message and a non-zero exit. Then a real Prometheus scrapes
# accelpackd's /metrics: idle devices per kind equal `accelpack status`, and
# promtool finds the exposition clean. The CLI is run without --socket: it
# finds the core through CoreAddress in accelpack.conf beside slurm.conf.
#   operators.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null && command -v promtool >/dev/null \
  || e2e_skip "prometheus/promtool not installed (contrib/install-deps.sh)"
free_port() { local p; for p in $(seq "$1" $(($1 + 200))); do ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }; done; }
metrics_port=$(free_port 19464)
prom_port=$(free_port 19090)
export ACCELPACK_ACCELPACKD_ARGS="--metrics-listen 127.0.0.1:$metrics_port --decision-log /tmp/accelpack-e2e-decisions.$$.jsonl"
e2e_init accelpack "${1:-}"
decision_log=/tmp/accelpack-e2e-decisions.$$.jsonl
cli=$(find "$ACCELPACK_BUILD_DIR" -name accelpack -type f -perm -u+x | grep cli/ | head -1)
[ -n "$cli" ] || e2e_fail "accelpack CLI not built in $ACCELPACK_BUILD_DIR"
ap() { "$cli" "$@"; }
out=$E2E_RUN_DIR/out
mkdir -p "$out"

expect_fail() {  # expect_fail RC PATTERN CMD... : exit code RC and stderr matching PATTERN
  local want=$1 pattern=$2 rc=0; shift 2
  "$@" >"$out/stdout" 2>"$out/stderr" || rc=$?
  [ "$rc" -eq "$want" ] || e2e_fail "'$*' exited $rc (wanted $want): $(cat "$out/stderr")"
  grep -Eq "$pattern" "$out/stderr" || e2e_fail "'$*': message does not say '$pattern': $(cat "$out/stderr")"
  e2e_log "ok: '$*' -> exit $rc: $(head -1 "$out/stderr")"
}

# A never-fitting job first: alone it must not make idle 910C devices "wanted".
never=$(e2e_submit -J never --gres=npu:910c:3 --wrap 'sleep 1')
sleep 3
ap explain "$never" >"$out/never.txt"
e2e_log "explain never-fitting job:"; cat "$out/never.txt" >&2
grep -q "NeverFits" "$out/never.txt" || e2e_fail "never-fitting job not NeverFits"
grep -q "device count not legal" "$out/never.txt" || e2e_fail "explain does not name the illegal count"
grep -q "no node can ever host it" "$out/never.txt" || e2e_fail "no counterfactual for the never-fitting job"
wanted=$(ap status --json | python3 -c 'import json,sys; print(sum(k["devices_idle_while_demanded"] for k in json.load(sys.stdin)["kinds"] if k["kind"]=="ascend910c"))')
[ "$wanted" = 0 ] || e2e_fail "an illegal npu:910c:3 makes $wanted idle 910C devices 'wanted'"
e2e_log "ok: IDLE-WHILE-WANTED ignores the never-fitting job"

# Devices: h100-1 keeps 2 free, h100-2 full; an 8-GPU job waits and gets a reservation,
# a 2-GPU job with a long time limit is held for it.
r1=$(e2e_submit -J r1 -w h100-1 --gres=gpu:h100:6 -t 10 --wrap 'sleep 600')
r2=$(e2e_submit -J r2 -w h100-2 --gres=gpu:h100:8 -t 12 --wrap 'sleep 600')
# 910C: three 1-die jobs on a910c-1 (5 dies free, one module half used), a910c-2 full.
c1=$(e2e_submit -J c1 -w a910c-1 --gres=npu:910c:1 -t 30 --wrap 'sleep 600')
c2=$(e2e_submit -J c2 -w a910c-1 --gres=npu:910c:1 -t 30 --wrap 'sleep 600')
c3=$(e2e_submit -J c3 -w a910c-1 --gres=npu:910c:1 -t 30 --wrap 'sleep 600')
c4=$(e2e_submit -J c4 -w a910c-2 --gres=npu:910c:8 -t 30 --wrap 'sleep 600')
for id in "$r1" "$r2" "$c1" "$c2" "$c3" "$c4"; do e2e_wait_state "$id" RUNNING 60 || e2e_fail "job $id did not start"; done
big=$(e2e_submit -J big --gres=gpu:h100:8 -t 5 --wrap 'sleep 1')
held=$(e2e_submit -J held --gres=gpu:h100:2 -t 60 --wrap 'sleep 1')
mod=$(e2e_submit -J mod --gres=npu:910c:6 -t 5 --wrap 'sleep 1')
sleep 4

ap explain "$big" >"$out/big.txt"
e2e_log "explain job pending for devices, with a reservation:"; cat "$out/big.txt" >&2
grep -q "too few free devices" "$out/big.txt" || e2e_fail "explain $big: no device rejection count"
grep -q "reservation .* on h100-1" "$out/big.txt" || e2e_fail "explain $big: no reservation on h100-1"
grep -q "starts when job $r1 ends on h100-1" "$out/big.txt" || e2e_fail "explain $big: does not name job $r1 ending"
ap explain "$held" >"$out/held.txt"
e2e_log "explain job held behind the reservation:"; cat "$out/held.txt" >&2
grep -q "held for a reserved job" "$out/held.txt" || e2e_fail "explain $held: no node counted as held"
grep -q "held for job $big (reserved to start by" "$out/held.txt" || e2e_fail "explain $held: does not name the reserved job $big"
grep -q "time limit of at most" "$out/held.txt" || e2e_fail "explain $held: no backfill counterfactual"
grep -Eq "^ +h100-1 +h100 +devices \[6,7\] .*protect_accelerators" "$out/held.txt" || e2e_fail "explain $held: no scored candidate h100-1"
ap explain "$mod" >"$out/mod.txt"
e2e_log "explain 910C job that needs whole modules:"; cat "$out/mod.txt" >&2
grep -q "needs 6 free ascend910c devices as whole modules; best node a910c-1 has 5 free" "$out/mod.txt" \
  || e2e_fail "explain $mod: no module shortfall"
ap explain "$big" --json | python3 -c '
import json,sys; d=json.load(sys.stdin)
assert d["reservation"]["nodes"]==["h100-1"], d
assert d["queue_position"]>=1 and d["rejections"], d' || e2e_fail "explain --json"

# Bad input: clear message, non-zero exit, the daemon unaffected.
expect_fail 1 "not pending" ap explain 999999
expect_fail 1 "is running, not pending" ap explain "$r1"
printf 'scorers:\n  - {name: nope}\nlimits:\n  max_reservations: -3\n' >"$out/bad.yaml"
expect_fail 1 "2 problems" ap policy check "$out/bad.yaml"
grep -q 'unknown scorer "nope"' "$out/stderr" && grep -q "limits" "$out/stderr" \
  || e2e_fail "policy check does not list both problems: $(cat "$out/stderr")"
: >"$out/empty.yaml"
expect_fail 1 "empty policy file" ap policy check "$out/empty.yaml"
expect_fail 1 "unknown scorer" ap policy diff "$out/bad.yaml"
expect_fail 2 "expected 10m" ap decisions --since yesterday
expect_fail 3 "cannot reach accelpackd" ap status --socket "$out/none.sock"
ap status >/dev/null || e2e_fail "status after bad input"

# Decisions: the starts this test made, with their nodes.
ap decisions --since 10m >"$out/decisions.txt"
for id in "$r1" "$r2" "$c4"; do
  grep -Eq "^[^ ]+ +[0-9]+ +$id +start " "$out/decisions.txt" || e2e_fail "decisions: no start of job $id"
done
grep -Eq " $r1 +start +h100-1 " "$out/decisions.txt" || e2e_fail "decisions: job $r1 not on h100-1"
ap decisions --job "$big" -o what,detail >"$out/decisions-big.txt"
grep -q "^reserve .*h100-1" "$out/decisions-big.txt" || e2e_fail "decisions --job $big: no reservation"
grep -q "\"what\":\"start\"" "$decision_log" || e2e_fail "audit log $decision_log has no start"
e2e_log "ok: decisions show the starts ($(grep -c ' start ' "$out/decisions.txt") starts)"

# policy diff: the same policy changes nothing; no reservations lets the held job start.
ap policy diff "$E2E_RUN_DIR/conf/policy.yaml" >"$out/diff-same.txt"
grep -q "no difference" "$out/diff-same.txt" || { cat "$out/diff-same.txt" >&2; e2e_fail "policy diff of the same policy shows a difference"; }
printf 'name: no-backfill-reservations\nlimits:\n  max_reservations: 0\n' >"$out/noresv.yaml"
ap policy diff "$out/noresv.yaml" >"$out/diff.txt"
e2e_log "policy diff:"; cat "$out/diff.txt" >&2
grep -Eq "^ *$held +\(pending\) +h100-1" "$out/diff.txt" || e2e_fail "policy diff: job $held does not start on h100-1 under the other policy"
ap status >"$out/status.txt"
ap nodes >"$out/nodes-all.txt"
ap nodes --kind h100 >"$out/nodes.txt"
grep -Eq "^h100-1 .* h100 +8 +6 +2 " "$out/nodes.txt" || { cat "$out/nodes.txt" >&2; e2e_fail "nodes: h100-1 not 8/6/2"; }

# Prometheus scrapes accelpackd; its idle series per kind equal `accelpack status`.
curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$out/metrics.txt" || e2e_fail "no /metrics on $metrics_port"
promtool check metrics <"$out/metrics.txt" 2>&1 | tee "$out/promtool.txt" >&2 || e2e_fail "promtool check metrics"
[ ! -s "$out/promtool.txt" ] || e2e_fail "promtool found problems"
mkdir -p "$E2E_RUN_DIR/prom"
cat >"$E2E_RUN_DIR/prom/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: accelpackd
    static_configs: [{targets: ["127.0.0.1:$metrics_port"]}]
YAML
ap_spawn prometheus prometheus --config.file="$E2E_RUN_DIR/prom/prometheus.yml" \
  --storage.tsdb.path="$E2E_RUN_DIR/prom/data" --web.listen-address="127.0.0.1:$prom_port"
query() { curl -sfG "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1"; }
for _ in $(seq 60); do
  [ "$(query 'up{job="accelpackd"}' 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)" = 1 ] && break
  sleep 1
done
sleep 2
query 'sum by (kind) (accelpack_devices_idle)' >"$out/prom-idle.json" || e2e_fail "Prometheus query failed"
query 'sum by (kind) (accelpack_devices_idle_while_demanded)' >"$out/prom-wanted.json"
ap status --json >"$out/status.json"
python3 - "$out/prom-idle.json" "$out/prom-wanted.json" "$out/status.json" <<'PY' || e2e_fail "Prometheus series differ from accelpack status"
import json, sys
idle = {r["metric"]["kind"]: int(float(r["value"][1])) for r in json.load(open(sys.argv[1]))["data"]["result"]}
wanted = {r["metric"]["kind"]: int(float(r["value"][1])) for r in json.load(open(sys.argv[2]))["data"]["result"]}
status = json.load(open(sys.argv[3]))
want_idle = {k["kind"]: k["devices_idle"] for k in status["kinds"]}
want_wanted = {k["kind"]: k["devices_idle_while_demanded"] for k in status["kinds"]}
print("prometheus idle", idle, "status", want_idle, file=sys.stderr)
print("prometheus wanted", wanted, "status", want_wanted, file=sys.stderr)
assert idle == want_idle and wanted == want_wanted
assert idle["h100"] == 2, idle
PY
e2e_log "ok: Prometheus idle/idle-while-demanded per kind equal accelpack status"
# Every query of the Grafana dashboard evaluates on this Prometheus.
python3 -c 'import json,sys; [print(t["expr"]) for p in json.load(open(sys.argv[1]))["panels"] for t in p["targets"]]' \
  "$E2E_REPO/contrib/grafana/accelpack-idle-accelerators.json" | while read -r expr; do
  query "$expr" | python3 -c 'import json,sys; assert json.load(sys.stdin)["status"]=="success"' \
    || e2e_fail "dashboard query fails: $expr"
done
e2e_log "ok: every Grafana dashboard query evaluates"
ap stats >"$out/stats.txt"; cat "$out/stats.txt" >&2
grep -q '^lock hold (controller) ' "$out/stats.txt" ||
  e2e_fail "accelpack stats shows no lock hold from the plugin"
ap_stop_recorded prometheus 10
# slurmctld gone: the core's last snapshot goes stale and explain says so (exit 4).
ap_stop_slurmctld
sleep 3
expect_fail 4 "stale snapshot: the last cycle was [0-9]+ s ago \(limit 2 s\)" ap explain "$big" --max-age 2
ap status >/dev/null || e2e_fail "status after a stale explain"
rm -f "$decision_log"*
e2e_log "passed"
