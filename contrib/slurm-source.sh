#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fetches and configures the Slurm source tree that matches the INSTALLED slurmctld
# exactly, so sched/accelpack compiles against the very struct layouts the running
# controller uses. Nothing of Slurm is committed to accelpack; this tree is a cache.
#
#   contrib/slurm-source.sh [--print-dir] [CACHE_ROOT]
#
# CACHE_ROOT defaults to $ACCELPACK_SLURM_CACHE or /var/cache/accelpack. The tree lands
# in CACHE_ROOT/slurm-src-<version>; the last line of stdout is its path. --print-dir
# only prints the path the tree would have (nothing fetched). Idempotent: a tree that is
# already configured (has config.h and the stamp file) is reused as is. Needs root the
# first time (apt-get update for the deb-src entry).
set -euo pipefail

print_only=0
if [ "${1:-}" = "--print-dir" ]; then
  print_only=1
  shift
fi
cache_root=${1:-${ACCELPACK_SLURM_CACHE:-/var/cache/accelpack}}

die() { echo "slurm-source: $*" >&2; exit 1; }
log() { echo "slurm-source: $*" >&2; }

# The binary package's version is what slurmctld reports; the source package version is
# what apt-get source needs (they are equal on Debian, but ask dpkg for both).
bin_ver=$(dpkg-query -W -f='${Version}' slurmctld 2>/dev/null) ||
  die "slurmctld is not installed (apt-get install slurmctld)"
src_pkg=$(dpkg-query -W -f='${source:Package}' slurmctld)
src_ver=$(dpkg-query -W -f='${source:Version}' slurmctld)
[ -n "$bin_ver" ] && [ -n "$src_pkg" ] && [ -n "$src_ver" ] || die "cannot read slurmctld's version from dpkg"

tree="$cache_root/slurm-src-$src_ver"
if [ "$print_only" -eq 1 ]; then
  echo "$tree"
  exit 0
fi

stamp="$tree/.accelpack-configured"
if [ -f "$stamp" ] && [ -f "$tree/config.h" ]; then
  log "reusing configured tree for $src_pkg $src_ver"
  echo "$tree"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "first run needs root (apt-get update/source); tree not present at $tree"
command -v dpkg-source >/dev/null || die "dpkg-source missing (apt-get install dpkg-dev)"
mkdir -p "$cache_root"

# Several engineers/build dirs may run this at once: one configures, the others wait.
exec 9>"$cache_root/.slurm-src.lock"
flock 9
if [ -f "$stamp" ] && [ -f "$tree/config.h" ]; then
  log "reusing configured tree for $src_pkg $src_ver"
  echo "$tree"
  exit 0
fi

# deb-src for the same suites as the existing deb entries (deb822 or one-line format).
have_src() {
  grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}
if ! have_src; then
  log "adding deb-src entries for the existing deb suites (/etc/apt/sources.list.d/accelpack-deb-src.*)"
  shopt -s nullglob
  # deb822 stanzas whose Types include deb, copied with Types: deb-src.
  for f in /etc/apt/sources.list.d/*.sources; do
    awk 'BEGIN { RS=""; ORS="\n\n" }
         /(^|\n)Types:[^\n]*deb([ \n]|$)/ { sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f"
  done >/etc/apt/sources.list.d/accelpack-deb-src.sources
  # One-line entries, copied as deb-src lines.
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f"
  done >/etc/apt/sources.list.d/accelpack-deb-src.list
  for f in /etc/apt/sources.list.d/accelpack-deb-src.sources /etc/apt/sources.list.d/accelpack-deb-src.list; do
    [ -s "$f" ] || rm -f "$f"
  done
  apt-get update -qq
fi

work=$(mktemp -d "$cache_root/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "fetching $src_pkg=$src_ver (about 10 MB)"
(cd "$work" && apt-get source -qq --download-only "$src_pkg=$src_ver" >&2) ||
  die "apt-get source $src_pkg=$src_ver failed (is a deb-src entry for this suite reachable?)"
dsc=$(ls "$work"/*.dsc | head -n1)
[ -n "$dsc" ] || die "no .dsc downloaded"
rm -rf "$tree"
# dpkg-source also applies debian/patches (none touches a header a sched plugin uses,
# but this keeps the tree identical to what Debian built).
(cd "$work" && dpkg-source --no-check -x "$dsc" "$tree" >&2) || die "dpkg-source -x failed"

# The same configure switches Debian's build uses where they matter for headers; NOT
# --enable-developer (drops NDEBUG and makes headers call verify_lock(), which
# Debian's slurmctld does not export).
log "configuring $tree (about 20 s)"
(cd "$tree" && ./configure -q --sysconfdir=/etc/slurm --enable-multiple-slurmd >"$tree/.accelpack-configure.log" 2>&1) ||
  die "configure failed, see $tree/.accelpack-configure.log"
[ -f "$tree/config.h" ] || die "configure produced no config.h"
echo "$bin_ver" >"$stamp"
log "ready: $tree"
echo "$tree"
