#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Finds or makes the configured Slurm source tree sched/accelpack compiles against.
# It must be the Slurm the site runs, exactly (slurmctld refuses a plugin of another
# version, micro release included, and struct layouts change between releases).
# Nothing of Slurm is committed to accelpack; these trees are caches.
#
#   contrib/slurm-source.sh [--print-dir] [CACHE_ROOT]
#       Debian's packages: fetches the source of the INSTALLED slurmctld package
#       (apt-get source) into CACHE_ROOT/slurm-src-<version> and configures it.
#   contrib/slurm-source.sh --tree DIR
#       a site that built Slurm from source: the tree it was built in (./configure
#       already run there, with the site's flags). Checked, then printed.
#   contrib/slurm-source.sh --tarball slurm-<version>.tar.xz [CACHE_ROOT]
#       a release tarball: unpacked and configured (contrib/slurm-prefix.sh
#       --configure-only; checked against a SHA256SUMS beside it).
#
# The last line of stdout is the tree's path: pass it as -DACCELPACK_SLURM_SRC=<tree>
# (the Debian tree is found without it). CACHE_ROOT defaults to $ACCELPACK_SLURM_CACHE
# or /var/cache/accelpack. --print-dir only prints the path the Debian tree would
# have (nothing fetched). Idempotent: a tree already configured (config.h and the
# stamp file) is reused as is. Debian's needs root the first time (apt-get update
# for the deb-src entry).
set -euo pipefail

die() { echo "slurm-source: $*" >&2; exit 1; }
log() { echo "slurm-source: $*" >&2; }

case "${1:-}" in
  --tree)
    tree=${2:?usage: slurm-source.sh --tree DIR}
    [ -d "$tree" ] || die "no directory $tree"
    tree=$(cd "$tree" && pwd)
    [ -f "$tree/src/slurmctld/slurmctld.h" ] || die "$tree is not a Slurm source tree (no src/slurmctld/slurmctld.h)"
    [ -f "$tree/config.h" ] ||
      die "$tree is not configured (no config.h): run its ./configure with the flags Slurm was built with"
    ver=$(sed -n 's/^#define SLURM_VERSION_STRING "\(.*\)"$/\1/p' "$tree/config.h")
    log "Slurm ${ver:-?} source tree at $tree"
    echo "$tree"
    exit 0
    ;;
  --tarball)
    tarball=${2:?usage: slurm-source.sh --tarball slurm-<version>.tar.xz [CACHE_ROOT]}
    key=$(bash "$(dirname "${BASH_SOURCE[0]}")/slurm-prefix.sh" --configure-only "$tarball" ${3:+"$3"} | tail -1)
    echo "$key/src"
    exit 0
    ;;
esac

print_only=0
if [ "${1:-}" = "--print-dir" ]; then
  print_only=1
  shift
fi
cache_root=${1:-${ACCELPACK_SLURM_CACHE:-/var/cache/accelpack}}

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
# A deb-src entry added by an earlier run whose `apt-get update` failed or was cut
# short has no index yet: update once more before giving up.
(cd "$work" && apt-get source -qq --download-only "$src_pkg=$src_ver" >&2) || {
  log "apt-get source failed; updating the package lists and trying once more"
  apt-get -o DPkg::Lock::Timeout=600 update -qq || true
  (cd "$work" && apt-get source -qq --download-only "$src_pkg=$src_ver" >&2)
} || die "apt-get source $src_pkg=$src_ver failed (is a deb-src entry for this suite reachable?)"
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
