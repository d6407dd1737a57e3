#!/usr/bin/env bash
# The accelpack CLI against a real accelpackd: table, JSON, and a clear error
# with a non-zero exit when the daemon is not there.
set -euo pipefail
daemon=$1
cli=$2
make_ca=${3:-}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

if out=$("$cli" --socket "$dir/none.sock" status 2>&1); then
  echo "FAIL: status without a daemon exited 0"; exit 1
fi
grep -q "cannot reach accelpackd" <<<"$out" || { echo "FAIL: unclear error: $out"; exit 1; }

"$daemon" --socket "$dir/core.sock" 2>"$dir/log" & pids+=($!)
for _ in $(seq 300); do [ -S "$dir/core.sock" ] && break; sleep 0.1; done
table=$("$cli" --socket "$dir/core.sock" status)
grep -q "no scheduling cycle yet" <<<"$table" || { echo "FAIL: table: $table"; exit 1; }
json=$("$cli" --socket "$dir/core.sock" status --json)
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["has_cycle"] is False and d["policy"]=="accelpack-default", d' <<<"$json"

printf 'scorers:\n  - {name: nope}\n' > "$dir/bad.yaml"
if "$cli" policy check "$dir/bad.yaml" 2>"$dir/err"; then echo "FAIL: bad policy accepted"; exit 1; fi
grep -q 'bad.yaml:2:5: scorers\[0\]: unknown scorer "nope"' "$dir/err" || { cat "$dir/err"; exit 1; }
# Issue 12: a default time limit that would overflow every end time is refused.
printf 'limits:\n  default_time_limit_s: 9223372036854775807\n' > "$dir/huge.yaml"
if "$cli" policy check "$dir/huge.yaml" 2>"$dir/err"; then echo "FAIL: INT64_MAX limit accepted"; exit 1; fi
grep -q 'huge.yaml:2:25: limits.default_time_limit_s: 9223372036854775807 outside' "$dir/err" || { cat "$dir/err"; exit 1; }
"$cli" policy show > "$dir/shown.yaml"
"$cli" policy check "$dir/shown.yaml" | grep -q "is valid"

# TCP: only with TLS and a client certificate (contrib/make-test-ca.sh).
if out=$("$cli" --address 127.0.0.1:1 status 2>&1); then echo "FAIL: --address without TLS"; exit 1; fi
grep -q "needs --tls-ca" <<<"$out" || { echo "FAIL: unclear TLS error: $out"; exit 1; }
if [ -n "$make_ca" ]; then
  "$make_ca" "$dir/ca" >/dev/null
  # Readers (the CLI) on their own port; --listen serves scheduler certificates only.
  "$daemon" --socket "" --listen 127.0.0.1:0 --listen-readers 127.0.0.1:0 \
    --tls-cert "$dir/ca/server.pem" --tls-key "$dir/ca/server.key" \
    --tls-client-ca "$dir/ca/ca.pem" 2>"$dir/tls.log" & pids+=($!)
  port=
  for _ in $(seq 300); do
    port=$(sed -n 's/.*listening for readers on 127.0.0.1:0 port \([0-9]*\).*/\1/p' "$dir/tls.log")
    [ -n "$port" ] && break; sleep 0.1
  done
  [ -n "$port" ] || { echo "FAIL: no TLS port: $(cat "$dir/tls.log")"; exit 1; }
  "$cli" --address "127.0.0.1:$port" --tls-ca "$dir/ca/ca.pem" --tls-cert "$dir/ca/operator.pem" \
    --tls-key "$dir/ca/operator.key" status | grep -q "no scheduling cycle yet" \
    || { echo "FAIL: status over TLS"; exit 1; }
fi
echo "cli_test: 1 passed, 0 failed"
