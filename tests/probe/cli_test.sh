#!/bin/bash
# accelpack-probe's exit codes and files: 2 and one "accelpack-probe: ..." line on
# bad input with no output file touched; 0 on success; --check exits 1 on mismatch.
set -u
probe=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

expect_error() {
  echo previous >"$dir/gres.conf"
  "$probe" "$@" --gres-out "$dir/gres.conf" >"$dir/out" 2>"$dir/err"
  local rc=$?
  [ "$rc" -eq 2 ] || fail "$*: exit $rc, want 2 ($(cat "$dir/err"))"
  grep -q '^accelpack-probe: ' "$dir/err" || fail "$*: stderr was: $(cat "$dir/err")"
  [ "$(cat "$dir/gres.conf")" = previous ] || fail "$*: gres.conf was touched"
  ! ls -A "$dir" | grep -q '\.tmp\.' || fail "$*: a temporary file was left"
  echo "ok: $* -> $(cat "$dir/err")"
}

expect_error --xml "$dir/missing.xml"
echo "not xml" >"$dir/text.xml"
expect_error --xml "$dir/text.xml"
printf '<?xml version="1.0"?>\n<topology version="2.0">\n<object type="Machine"' >"$dir/cut.xml"
expect_error --xml "$dir/cut.xml"
if command -v lstopo-no-graphics >/dev/null; then
  lstopo-no-graphics --no-io --of xml "$dir/nopci.xml"
  expect_error --xml "$dir/nopci.xml"
fi
expect_error --no-such-option
expect_error --print everything

# Live machine: files written, nothing on stdout, and --check agrees with them.
"$probe" --gres-out "$dir/g.conf" --slurm-out "$dir/s.conf" --json-out "$dir/r.json" >"$dir/out" ||
  fail "live probe failed"
[ -s "$dir/g.conf" ] && [ -s "$dir/s.conf" ] && [ -s "$dir/r.json" ] || fail "outputs missing"
[ ! -s "$dir/out" ] || fail "stdout not empty with --*-out"
grep -q '^NodeName=.* Sockets=[0-9]* CoresPerSocket=[0-9]* ThreadsPerCore=[0-9]* RealMemory=[0-9]*' \
  "$dir/s.conf" || fail "bad NodeName line: $(cat "$dir/s.conf")"
"$probe" --check --gres-conf "$dir/g.conf" --slurm-conf "$dir/s.conf" >"$dir/out" ||
  fail "--check of the probe's own output: $(cat "$dir/out")"

# A wrong socket count: exit 1 and the mismatch on stdout.
sed 's/Sockets=[0-9]*/Sockets=99/' "$dir/s.conf" >"$dir/wrong.conf"
"$probe" --check --gres-conf "$dir/g.conf" --slurm-conf "$dir/wrong.conf" >"$dir/out"
rc=$?
[ "$rc" -eq 1 ] || fail "--check with a mismatch: exit $rc, want 1"
grep -q '^slurm.conf: Sockets=99, hardware has ' "$dir/out" || fail "mismatch line: $(cat "$dir/out")"
# --check with a missing file is an error, not a mismatch.
"$probe" --check --gres-conf "$dir/none.conf" --slurm-conf "$dir/s.conf" >/dev/null 2>"$dir/err"
[ $? -eq 2 ] || fail "--check with a missing gres.conf should exit 2"
echo "all CLI checks passed"
