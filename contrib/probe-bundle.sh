#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Packs accelpack-probe and hwloc's lstopo-no-graphics with every library they load
# (hwloc, absl, fmt, libstdc++, glibc and its loader) into one tarball that runs on a
# compute node without Debian's packages: Ubuntu, RHEL, a cloud image with only the
# NVIDIA driver (tried on Ubuntu 24.04 with an H200: docs/probe.md). Exports made with
# the bundled lstopo are ones the probe's hwloc reads (hwloc 2.9 cannot read 3.x's).
#
#   bash contrib/probe-bundle.sh PROBE_BINARY OUT.tar.gz
#   # on the node:
#   tar xzf accelpack-probe.tar.gz && accelpack-probe/accelpack-probe --print conf
#   accelpack-probe/lstopo-no-graphics --of xml "$(hostname -s).xml"
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: probe-bundle.sh PROBE_BINARY OUT.tar.gz" >&2
  exit 2
fi
probe="$1"
out="$2"
[ -x "$probe" ] || { echo "probe-bundle: $probe is not an executable" >&2; exit 2; }
lstopo="$(command -v lstopo-no-graphics || true)"
[ -n "$lstopo" ] || { echo "probe-bundle: lstopo-no-graphics not found (Debian package hwloc)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/accelpack-probe"
mkdir -p "$root/bin" "$root/lib"
cp "$probe" "$root/bin/accelpack-probe"
cp "$lstopo" "$root/bin/lstopo-no-graphics"
# Debug info is most of a RelWithDebInfo build's size and no use on a node.
if command -v strip >/dev/null; then strip --strip-debug "$root"/bin/*; fi

# Every library either program loads, and the loader itself as lib/ld.so: the wrappers
# start the programs through it, so the node's own (older or newer) glibc is never mixed in.
loader=""
for program in "$root"/bin/*; do
  if ! needs="$(ldd "$program" 2>&1)"; then
    echo "probe-bundle: ldd $program failed (a statically linked build needs no bundle): $needs" >&2
    exit 1
  fi
  while read -r name arrow path _; do
    if [ "$arrow" = "=>" ] && [ "$path" = "not" ]; then
      echo "probe-bundle: $program needs $name, which is not installed" >&2
      exit 1
    elif [ "$arrow" = "=>" ] && [[ "$path" == /* ]]; then
      cp -L "$path" "$root/lib/"
    elif [[ "$name" == /*/ld-linux* ]]; then
      loader="$name"
    elif [[ "$name" == /* ]]; then
      cp -L "$name" "$root/lib/"
    fi
  done <<<"$needs"
done
[ -n "$loader" ] || { echo "probe-bundle: no ELF loader in ldd's output" >&2; exit 1; }
cp -L "$loader" "$root/lib/ld.so"
# hwloc loads its plugins from a path compiled in; pointed at an empty folder, the node's
# own plugins (another hwloc version's) are never loaded. Debian's 2.9 reads PCI from
# sysfs without them.
mkdir -p "$root/lib/hwloc"

for tool in accelpack-probe lstopo-no-graphics; do
  cat >"$root/$tool" <<EOF
#!/bin/sh
here=\$(dirname "\$(readlink -f "\$0")")
HWLOC_PLUGINS_PATH="\$here/lib/hwloc"
export HWLOC_PLUGINS_PATH
exec "\$here/lib/ld.so" --library-path "\$here/lib" "\$here/bin/$tool" "\$@"
EOF
  chmod 755 "$root/$tool"
done

tar -C "$work" -czf "$out" accelpack-probe
echo "probe-bundle: wrote $out ($(du -h "$out" | cut -f1))"
