#!/bin/bash
# contrib/probe-bundle.sh: the tarball's programs load every library from the bundle
# (none from the system), and the wrapped probe says what the built one says.
set -u
bundle_script=$1
probe=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

bash "$bundle_script" "$probe" "$dir/probe.tar.gz" >"$dir/log" 2>&1 || fail "bundle: $(cat "$dir/log")"
tar -C "$dir" -xzf "$dir/probe.tar.gz" || fail "tarball does not unpack"
root="$dir/accelpack-probe"
for program in accelpack-probe lstopo-no-graphics; do
  [ -x "$root/$program" ] || fail "no wrapper $program"
  LD_TRACE_LOADED_OBJECTS=1 "$root/lib/ld.so" --library-path "$root/lib" "$root/bin/$program" \
    >"$dir/libs" 2>&1 || fail "$program does not load: $(cat "$dir/libs")"
  outside=$(grep '=>' "$dir/libs" | grep -v "=> $root/lib/") || true
  [ -z "$outside" ] || fail "$program loads from outside the bundle: $outside"
done

# Through a symbolic link, as a node's /usr/local/bin would call it.
ln -s "$root/accelpack-probe" "$dir/probe-link"
"$probe" --print conf >"$dir/direct" || fail "the built probe failed"
"$dir/probe-link" --print conf >"$dir/wrapped" || fail "the bundled probe failed"
cmp -s "$dir/direct" "$dir/wrapped" || fail "outputs differ: $(diff "$dir/direct" "$dir/wrapped")"
"$root/lstopo-no-graphics" --of xml "$dir/node.xml" || fail "bundled lstopo failed"
"$root/accelpack-probe" --xml "$dir/node.xml" --print slurm >"$dir/from-export" ||
  fail "the bundled probe cannot read the bundled lstopo's export"
"$probe" --print slurm >"$dir/live" || fail "the built probe failed"
cmp -s "$dir/live" "$dir/from-export" ||
  fail "export and live machine differ: $(diff "$dir/live" "$dir/from-export")"
grep -q "HWLOC_PLUGINS_PATH=.*/lib/hwloc" "$root/accelpack-probe" && [ -d "$root/lib/hwloc" ] ||
  fail "the wrapper lets hwloc load the node's own plugins"
echo "bundle checks passed"
