#!/usr/bin/env bash
# plugin/install-plugin.cmake installs sched_accelpack.so only beside the slurmctld
# it was compiled for: Debian's (`slurmctld -V` on PATH, plus the dpkg revision) or a
# Slurm under a prefix (`<prefix>/sbin/slurmctld -V`, dpkg not asked). A mismatch is
# refused and installs nothing. Into temporary directories; no root needed.
#   install_plugin.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: install_plugin.sh BUILD_DIR}" && pwd)
script="$(cd "$(dirname "$0")/../.." && pwd)/plugin/install-plugin.cmake"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*" >&2; }
command -v slurmctld >/dev/null || { echo "SKIP: no slurmctld installed" >&2; exit 77; }
[ -f "$build/plugin/sched_accelpack.so" ] || { echo "SKIP: sched_accelpack.so not built in $build" >&2; exit 77; }
tmp=$(mktemp -d /tmp/accelpack-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

built_version() {  # the version a plugin build recorded (generated header)
  sed -n 's/^#define ACCELPACK_SLURM_VERSION "\(.*\)"$/\1/p' "$build/plugin/generated/$1/accelpack_slurm_build.h"
}
built_package() {
  sed -n 's/^#define ACCELPACK_SLURM_PACKAGE_VERSION "\(.*\)"$/\1/p' "$build/plugin/generated/$1/accelpack_slurm_build.h"
}
install_plugin() {  # DEST PLUGIN VERSION PACKAGE [PREFIX] -> cmake's exit status, output in $tmp/out
  cmake -DPLUGIN="$2" -DBRIDGE="$build/plugin/libaccelpack_bridge.so" -DDEST="$1" \
    -DBUILT_VERSION="$3" -DBUILT_PACKAGE="$4" -DSLURM_PREFIX="${5:-}" -P "$script" >"$tmp/out" 2>&1
}
refused() {  # WHAT DEST PLUGIN VERSION PACKAGE [PREFIX]
  local what=$1; shift
  if install_plugin "$@"; then fail "$what: installed"; fi
  grep -q 'REFUSED' "$tmp/out" || fail "$what: failed without saying REFUSED: $(cat "$tmp/out")"
  [ -z "$(ls -A "$1" 2>/dev/null)" ] || fail "$what: refused but wrote into $1"
  ok "$what: refused ($(grep -o 'compiled against.*' "$tmp/out" | head -1 | cut -c1-100)...)"
}

debian=$(slurmctld -V | awk '{ print $2 }')
main_ver=$(built_version sched_accelpack)
main_pkg=$(built_package sched_accelpack)

# Debian's slurmctld: another micro release, another package revision are refused.
refused "Slurm 0.0.1 plugin, Debian slurmctld $debian" "$tmp/d1" "$build/plugin/sched_accelpack.so" 0.0.1 unknown
if command -v dpkg-query >/dev/null && dpkg-query -W slurmctld >/dev/null 2>&1; then
  refused "same version, another Debian revision" "$tmp/d2" "$build/plugin/sched_accelpack.so" "$debian" "$debian-0accelpack9"
fi
if [ "$main_ver" = "$debian" ]; then
  install_plugin "$tmp/d3" "$build/plugin/sched_accelpack.so" "$main_ver" "$main_pkg" ||
    fail "the matching plugin was refused: $(cat "$tmp/out")"
  [ -f "$tmp/d3/sched_accelpack.so" ] && [ -f "$tmp/d3/libaccelpack_bridge.so" ] || fail "installed files missing"
  # A running slurmctld maps the old file: a reinstall must not write into it. The
  # hard link keeps the old inode alive (so its number cannot be reused).
  ln "$tmp/d3/sched_accelpack.so" "$tmp/mapped.so"
  install_plugin "$tmp/d3" "$build/plugin/sched_accelpack.so" "$main_ver" "$main_pkg" || fail "reinstall refused"
  [ "$(stat -c %i "$tmp/d3/sched_accelpack.so")" != "$(stat -c %i "$tmp/mapped.so")" ] ||
    fail "reinstall wrote into the old inode"
  ok "plugin for $main_ver installed beside Debian's slurmctld $debian (a new inode each time)"
fi

# A Slurm under a prefix: its own slurmctld decides, whatever dpkg says.
prefix=${ACCELPACK_SLURM_PREFIX:-}
if [ -n "$prefix" ] && [ -x "$prefix/sbin/slurmctld" ]; then
  pver=$("$prefix/sbin/slurmctld" -V | awk '{ print $2 }')
  [ "$pver" = "$main_ver" ] ||
    refused "Slurm $main_ver plugin, $prefix/sbin/slurmctld $pver" "$tmp/p1" "$build/plugin/sched_accelpack.so" "$main_ver" "$main_pkg" "$prefix"
  if [ -f "$build/plugin/slurm-$pver/sched_accelpack.so" ]; then
    install_plugin "$tmp/p2" "$build/plugin/slurm-$pver/sched_accelpack.so" "$(built_version "sched_accelpack_$pver")" unknown "$prefix" ||
      fail "the plugin built for $pver was refused for $prefix: $(cat "$tmp/out")"
    ok "plugin for $pver installed for $prefix/sbin/slurmctld $pver"
  fi
else
  echo "note: ACCELPACK_SLURM_PREFIX not set; prefix checks not run" >&2
fi
echo "passed" >&2
