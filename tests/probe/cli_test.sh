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
expect_error --no-such-option
expect_error --print everything

# Inputs that are not regular files, or too deep, fail at once (exit 2, file named).
quick_error() {
  local start=$SECONDS
  expect_error "$@"
  [ $((SECONDS - start)) -le 10 ] || fail "$*: took $((SECONDS - start)) s"
  grep -qF -- "${!#}" "$dir/err" || fail "$*: the message does not name the file"
}
quick_error --xml /dev/zero
mkfifo "$dir/fifo.xml"
quick_error --xml "$dir/fifo.xml"
{ printf '<?xml version="1.0"?>\n<topology version="2.0">\n'
  for _ in $(seq 2000); do printf '<object type="Bridge">'; done; } >"$dir/deep.xml"
quick_error --xml "$dir/deep.xml"
echo '<topology>' >"$dir/huge.xml"
truncate -s 40M "$dir/huge.xml"
quick_error --xml "$dir/huge.xml"

# --npu-map: bounded read, strict lines, and only bus ids of this node's NPUs.
quick_error --npu-map /dev/zero
echo "NPU ID  Chip ID  Logic ID" >"$dir/header-only.map"
expect_error --npu-map "$dir/header-only.map"
grep -q 'no "bus id, logical id" lines' "$dir/err" || fail "npu map: $(cat "$dir/err")"
echo "0000:ff:1f.7 0" >"$dir/other-node.map"
expect_error --npu-map "$dir/other-node.map"
grep -q 'names 0000:ff:1f.7 (logical id 0), which is not a Huawei accelerator' "$dir/err" ||
  fail "npu map of another node: $(cat "$dir/err")"

# --mig-layout: syntax errors and layouts that do not fit the node (this machine has
# no GPU the probe knows) exit 2, naming the layout and the GPU.
expect_error --mig-layout "0:3g.40gb"
grep -q 'MIG layout entry "0:3g.40gb": expected GPUS=SLICES' "$dir/err" || fail "layout: $(cat "$dir/err")"
expect_error --mig-layout "0=3g.40gb*2"
grep -q -- '--mig-layout: MIG layout does not fit .*GPU 0: .* has no /dev/nvidia0' "$dir/err" ||
  fail "layout on a node without GPU 0: $(cat "$dir/err")"
echo "0=7g.80gb  # whole" >"$dir/layout.txt"
expect_error --mig-layout-file "$dir/layout.txt"
grep -qF "$dir/layout.txt: MIG layout does not fit" "$dir/err" || fail "layout file: $(cat "$dir/err")"
expect_error --mig-layout "0=7g.80gb" --mig-layout-file "$dir/layout.txt"
quick_error --mig-layout-file /dev/zero

# MIG and shards end to end on an 8x H100 export (fixtures/hgx-h100-gpu01.xml, written
# by topology_xml.cc's DirectHgx("gpu01", 1, H100Sxm)) and a real driver's mig-minors
# (fixtures/mig-minors-driver580.txt: /proc/driver/nvidia-caps/mig-minors of an H200
# node, driver 580.159.04; gpuN/giG/access, then its ci0-7, 9 minors a GPU instance).
fixtures="$(dirname "$0")/fixtures"
hgx="$fixtures/hgx-h100-gpu01.xml"
minors="$fixtures/mig-minors-driver580.txt"
layout="0=3g.40gb@1,3g.40gb@2 1=4g.40gb@1,2g.20gb@5,1g.10gb@13"
"$probe" --xml "$hgx" --mig-layout "$layout" --mig-minors "$minors" --shards-per-gpu 4 \
  --gres-out "$dir/mig-g.conf" --slurm-out "$dir/mig-s.conf" 2>"$dir/err" || fail "MIG render: $(cat "$dir/err")"
grep -qx 'NodeName=gpu01 Name=gpu Type=3g.40gb MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap21,/dev/nvidia-caps/nvidia-cap22 Cores=0-3' \
  "$dir/mig-g.conf" || fail "MIG line: $(cat "$dir/mig-g.conf")"
! grep -q 'File=/dev/nvidia[01] ' "$dir/mig-g.conf" || fail "a MIG GPU listed whole or shared"
grep -q ' Gres=gpu:h100:6,gpu:3g.40gb:2,gpu:4g.40gb:1,gpu:2g.20gb:1,gpu:1g.10gb:1,shard:24$' \
  "$dir/mig-s.conf" || fail "MIG NodeName: $(cat "$dir/mig-s.conf")"
"$probe" --xml "$hgx" --check --gres-conf "$dir/mig-g.conf" --slurm-conf "$dir/mig-s.conf" \
  --mig-layout "$layout" --shards-per-gpu 4 >"$dir/out" || fail "--check of MIG output: $(cat "$dir/out")"
"$probe" --xml "$hgx" --check --gres-conf "$dir/mig-g.conf" --slurm-conf "$dir/mig-s.conf" \
  --mig-layout "0=7g.80gb 1=4g.40gb,2g.20gb,1g.10gb" >"$dir/out"
[ $? -eq 1 ] || fail "--check against another layout should exit 1"
grep -qx 'gres.conf: /dev/nvidia0 MIG 7g.80gb count 0, layout has 1' "$dir/out" || fail "layout mismatch: $(cat "$dir/out")"
expect_error --xml "$hgx" --mig-layout "0=3g.71gb 1=1g.20gb*5"
grep -q 'GPU 0 (/dev/nvidia0, NVIDIA H100 SXM5): no MIG profile 3g.71gb for this model' "$dir/err" &&
  grep -q 'GPU 1 (/dev/nvidia1, NVIDIA H100 SXM5): 5 x 1g.20gb, at most 4 fit one GPU' "$dir/err" ||
  fail "bad layout on the export: $(cat "$dir/err")"
echo "bad minors" >"$dir/bad-minors"
expect_error --xml "$hgx" --mig-layout "0=7g.80gb@0" --mig-minors "$dir/bad-minors"
grep -qF "$dir/bad-minors line 1" "$dir/err" || fail "bad mig-minors: $(cat "$dir/err")"

# Host names go into config lines: one that would add keys, lines or a comment there
# (an export's HostName is whatever its file says, --node-name whatever was typed) is
# refused, naming where it came from; nothing is written.
sed 's|name="HostName" value="gpu01"|name="HostName" value="gpu01 Feature=pwned\&#10;NodeName=victim"|' \
  "$hgx" >"$dir/inject.xml"
expect_error --xml "$dir/inject.xml" --slurm-out "$dir/inject-s.conf"
grep -qF "$dir/inject.xml: node name" "$dir/err" || fail "injected host name: $(cat "$dir/err")"
[ ! -e "$dir/inject-s.conf" ] || fail "injected host name: slurm.conf written"
sed 's|name="HostName" value="gpu01"|name="HostName" value="gpu#01"|' "$hgx" >"$dir/hash.xml"
expect_error --xml "$dir/hash.xml"
expect_error --xml "$hgx" --node-name $'gpu\xfe1'
grep -qF -- '--node-name: node name "gpu\xfe' "$dir/err" || fail "non-UTF-8 --node-name: $(cat "$dir/err")"
"$probe" --xml "$hgx" --node-name gpu-01.rack_2 --print gres >"$dir/out" 2>"$dir/err" ||
  fail "a legal --node-name was refused: $(cat "$dir/err")"
grep -q '^NodeName=gpu-01.rack_2 ' "$dir/out" || fail "--node-name not used: $(cat "$dir/out")"

# A real node: fixtures/h200-vm1.xml is `lstopo-no-graphics --of xml` (Debian's hwloc
# 2.9.0) on a cloud VM with one H200 SXM (10de:2335, driver 580.159.04) whose sysfs
# numa_node is -1. One GPU of a board has no peer: no Links and no note about them.
real="$fixtures/h200-vm1.xml"
"$probe" --xml "$real" --gres-out "$dir/h200-g.conf" --slurm-out "$dir/h200-s.conf" 2>"$dir/err" ||
  fail "real H200 export: $(cat "$dir/err")"
[ "$(grep -v '^#' "$dir/h200-g.conf")" = \
  'NodeName=vm AutoDetect=off Name=gpu Type=h200 File=/dev/nvidia0 Cores=0-15' ] &&
  ! grep -q '^# note' "$dir/h200-g.conf" || fail "real H200 gres.conf: $(cat "$dir/h200-g.conf")"
grep -qx 'NodeName=vm Sockets=1 CoresPerSocket=16 ThreadsPerCore=1 RealMemory=128869 Gres=gpu:h200:1' \
  "$dir/h200-s.conf" || fail "real H200 NodeName: $(cat "$dir/h200-s.conf")"
"$probe" --xml "$real" --check --gres-conf "$dir/h200-g.conf" --slurm-conf "$dir/h200-s.conf" \
  >"$dir/out" || fail "--check of the real H200 output: $(cat "$dir/out")"
"$probe" --xml "$real" --mig-layout "0=3g.71gb@1,3g.71gb@2" --mig-minors "$minors" --print gres \
  >"$dir/out" 2>"$dir/err" || fail "real H200 MIG: $(cat "$dir/err")"
grep -qx 'NodeName=vm Name=gpu Type=3g.71gb MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap21,/dev/nvidia-caps/nvidia-cap22 Cores=0-15' \
  "$dir/out" || fail "real H200 MIG lines: $(cat "$dir/out")"

# Outputs are written as a set: a failing --slurm-out leaves --gres-out untouched.
echo previous >"$dir/gres.conf"
"$probe" --gres-out "$dir/gres.conf" --slurm-out "$dir/missing/dir/s.conf" 2>"$dir/err"
[ $? -eq 2 ] || fail "unwritable --slurm-out should exit 2"
[ "$(cat "$dir/gres.conf")" = previous ] || fail "gres.conf replaced although --slurm-out failed"
! ls -A "$dir" | grep -q '\.tmp\.' || fail "a temporary file was left"

if command -v lstopo-no-graphics >/dev/null; then
  # A CPU-only export (no PCI objects) still gives a NodeName line, without Gres.
  lstopo-no-graphics --no-io --of xml "$dir/nopci.xml"
  "$probe" --xml "$dir/nopci.xml" --print slurm >"$dir/out" || fail "CPU-only export failed"
  grep -q '^NodeName=[^ ]* Sockets=[0-9]* CoresPerSocket=[0-9]* ThreadsPerCore=[0-9]* RealMemory=[0-9]*$' \
    "$dir/out" || fail "CPU-only NodeName line: $(cat "$dir/out")"
  # Two exports of one node: two NodeName lines for it would confuse Slurm.
  cp "$dir/nopci.xml" "$dir/again.xml"
  expect_error --xml "$dir/nopci.xml" "$dir/again.xml"
  grep -q "is already described by $dir/nopci.xml" "$dir/err" || fail "duplicate: $(cat "$dir/err")"
fi

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
