#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds a Slurm release tarball into a prefix, once per machine, for a local cluster on
# a current release (and the e2e suite against it). The result is a cache keyed by the
# release version, the tarball's SHA-256 and the configure flags:
#
#   CACHE_ROOT/slurm-<version>-<sha256:12>-<flags-hash:8>/
#     src/      the configured and built source tree (compile sched/accelpack against it)
#     prefix/   make install (sbin/slurmctld, sbin/slurmd, lib/slurm/*.so, etc/)
#     .accelpack-built   stamp: written last, so a half-built key is rebuilt
#
#   contrib/slurm-prefix.sh [--print-dir] [--configure-only] TARBALL [CACHE_ROOT]
#
# The last line of stdout is the key directory. --print-dir prints it without building.
# --configure-only stops after ./configure (enough to compile the plugin; ~20-60 s) and
# uses its own key (flags hash differs), so it never shadows a full build.
# If a SHA256SUMS file sits beside the tarball, the tarball must match it.
# First run: ~6 CPU-minutes of make (about 10 min wall on a busy 2-core machine);
# later runs return at once.
set -euo pipefail

print_only=0
configure_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --print-dir) print_only=1; shift ;;
    --configure-only) configure_only=1; shift ;;
    -*) echo "slurm-prefix: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
tarball=${1:?usage: slurm-prefix.sh [--print-dir] [--configure-only] TARBALL [CACHE_ROOT]}
cache_root=${2:-${ACCELPACK_SLURM_CACHE:-/var/cache/accelpack}}

die() { echo "slurm-prefix: $*" >&2; exit 1; }
log() { echo "slurm-prefix: $*" >&2; }

[ -f "$tarball" ] || die "no tarball at $tarball"
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
base=$(basename "$tarball")
case "$base" in
  slurm-*.tar.xz | slurm-*.tar.bz2 | slurm-*.tar.gz) ;;
  *) die "$base does not look like a Slurm release tarball (slurm-<version>.tar.{xz,bz2,gz})" ;;
esac
version=${base#slurm-}
version=${version%.tar.*}

sha=$(sha256sum "$tarball" | cut -d' ' -f1)
sums="$(dirname "$tarball")/SHA256SUMS"
if [ -f "$sums" ]; then
  want=$(awk -v f="$base" '$2 == f || $2 == "*" f { print $1 }' "$sums")
  [ -n "$want" ] || die "$base is not listed in $sums"
  [ "$want" = "$sha" ] || die "$base: SHA-256 $sha does not match $sums ($want)"
fi

# Why each flag: no PMIx on the build machines; several slurmd on one host (one per
# emulated node); no static libraries (halves the compile, nothing links them);
# the prefix's own etc/, so it never reads the Debian cluster's config.
key_prefix_placeholder=@PREFIX@
flags="--without-pmix --enable-multiple-slurmd --disable-static --sysconfdir=$key_prefix_placeholder/etc"
[ "$configure_only" -eq 1 ] && flags="$flags #configure-only"
flags_hash=$(printf '%s' "$flags" | sha256sum | cut -c1-8)
key="$cache_root/slurm-$version-${sha:0:12}-$flags_hash"
if [ "$print_only" -eq 1 ]; then
  echo "$key"
  exit 0
fi

stamp="$key/.accelpack-built"
if [ -f "$stamp" ]; then
  log "reusing $key"
  echo "$key"
  exit 0
fi

mkdir -p "$cache_root"
# Several build dirs or people may ask at once: one builds, the others wait.
exec 9>"$key.lock"
flock 9
if [ -f "$stamp" ]; then
  log "reusing $key"
  echo "$key"
  exit 0
fi

if [ "$configure_only" -eq 0 ]; then
  [ -f /usr/include/munge.h ] || die "munge.h missing: apt-get install -y libmunge-dev"
fi
rm -rf "$key"
mkdir -p "$key"
log "unpacking $base"
tar -xf "$tarball" -C "$key"
top=("$key"/slurm-*/)
[ "${#top[@]}" -eq 1 ] && [ -d "${top[0]}" ] || die "$base did not unpack into one slurm-* directory"
mv "${top[0]}" "$key/src"

prefix="$key/prefix"
real_flags=${flags//$key_prefix_placeholder/$prefix}
real_flags=${real_flags% #configure-only}
log "configuring $version ($real_flags)"
start=$(date +%s)
# shellcheck disable=SC2086  # the flags are words
(cd "$key/src" && ./configure -q --prefix="$prefix" $real_flags >"$key/configure.log" 2>&1) ||
  die "configure failed, see $key/configure.log"
[ -f "$key/src/config.h" ] || die "configure produced no config.h"
if [ "$configure_only" -eq 0 ]; then
  jobs=${ACCELPACK_MAKE_JOBS:-$(nproc)}
  log "building $version with make -j$jobs (first run: ~6 CPU-minutes)"
  (cd "$key/src" && make -j"$jobs" >"$key/make.log" 2>&1) || die "make failed, see $key/make.log"
  (cd "$key/src" && make install >"$key/install.log" 2>&1) || die "make install failed, see $key/install.log"
  "$prefix/sbin/slurmctld" -V >/dev/null || die "$prefix/sbin/slurmctld does not run"
fi
printf 'version=%s\nsha256=%s\nflags=%s\nseconds=%s\n' "$version" "$sha" "$real_flags" \
  "$(($(date +%s) - start))" >"$stamp"
log "ready: $key ($(($(date +%s) - start)) s)"
echo "$key"
