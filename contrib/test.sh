#!/usr/bin/env bash
# The README's test command: on a fresh Debian 12 machine, as root, installs what is
# missing, fetches Slurm's matching source for the plugin, builds everything with
# warnings as errors, and runs every test (unit, integration, end-to-end against a
# real slurmctld/slurmd/munge cluster on this machine, simulator slice, benchmark
# smoke runs).
#
# Slurm releases: everything runs against Debian's Slurm (22.05.8); besides, the
# plugin is compiled (-Werror) for 24.11.5, 25.05.8, 25.11.7 and 26.05.3 from their
# release tarballs, and the end-to-end scenarios labelled `release` (those whose
# plugin code differs by release) run a second time against 26.05.3, built from its
# tarball into a prefix under /var/cache/accelpack (once per
# machine: ~11 min on a busy 2-core machine, ~700 MB; later runs reuse it).
#
#   bash contrib/test.sh                 everything
#   bash contrib/test.sh --quick         without the end-to-end cluster tests
#   bash contrib/test.sh --debian-only   without the other Slurm releases
#
# The release tarballs (slurm-<version>.tar.xz with a SHA256SUMS beside them) are
# looked for in $ACCELPACK_SLURM_TARBALLS, then ../shared/slurm and ../../shared/slurm
# from the repository, then /work/shared/slurm.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ACCELPACK_BUILD_DIR:-$repo/build}"
ctest_args=(--output-on-failure --timeout 1800)
quick=0 releases=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1; ctest_args+=(-LE e2e) ;;
    --debian-only) releases=0 ;;
    *) echo "test.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
# The other releases: compiled only, except the newest, which also runs the e2e suite.
compile_releases=(24.11.5 25.05.8 25.11.7)
e2e_release=26.05.3

# Timing goals (e.g. 3x faster submit-to-start than sched/backfill) are measured and
# written to build/e2e-results, but not asserted: a shared 2-core machine is too noisy.
export ACCELPACK_BENCH_NO_GOALS="${ACCELPACK_BENCH_NO_GOALS:-1}"

t_start=$(date +%s)
phase() { echo "test.sh: [$(($(date +%s) - t_start)) s] $*" >&2; }

# The release tarballs first: without them the run would stop only after minutes of
# installing and fetching.
tarballs=""
if [ "$releases" -eq 1 ]; then
  for d in "${ACCELPACK_SLURM_TARBALLS:-}" "$repo/../shared/slurm" "$repo/../../shared/slurm" /work/shared/slurm; do
    if [ -n "$d" ] && [ -f "$d/slurm-$e2e_release.tar.xz" ]; then tarballs=$(cd "$d" && pwd); break; fi
  done
  [ -n "$tarballs" ] || {
    echo "test.sh: no Slurm release tarballs (slurm-$e2e_release.tar.xz); set ACCELPACK_SLURM_TARBALLS or run with --debian-only" >&2
    exit 1
  }
fi

bash "$repo/contrib/install-deps.sh"
bash "$repo/contrib/slurm-source.sh" >/dev/null

extra_src="" prefix=""
if [ "$releases" -eq 1 ]; then
  if [ "$quick" -eq 1 ]; then
    # No end-to-end run against it: its configured tree is enough to compile.
    compile_releases+=("$e2e_release")
  else
    phase "Slurm $e2e_release into a prefix (cached per machine)"
    key=$(bash "$repo/contrib/slurm-prefix.sh" "$tarballs/slurm-$e2e_release.tar.xz" | tail -1)
    prefix="$key/prefix"
    extra_src="$key/src"
  fi
  for v in "${compile_releases[@]}"; do
    phase "Slurm $v: configured tree (cached per machine)"
    key=$(bash "$repo/contrib/slurm-prefix.sh" --configure-only "$tarballs/slurm-$v.tar.xz" | tail -1)
    extra_src="${extra_src:+$extra_src;}$key/src"
  done
fi

phase "build"
# Compiled objects are cached per machine, like the Slurm trees: a run after a small
# change recompiles what changed (both builds, this one and the sanitizers').
# Paths relative to the checkout, so another clone of it hits the same entries.
export CCACHE_DIR="${CCACHE_DIR:-/var/cache/accelpack/ccache}" CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-4G}" \
  CCACHE_BASEDIR="${CCACHE_BASEDIR:-$repo}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACCELPACK_WERROR=ON \
  -DACCELPACK_BUILD_TESTS=ON -DACCELPACK_BUILD_PLUGIN=ON "-DACCELPACK_SLURM_EXTRA_SRC=$extra_src" \
  "${launcher[@]}"
cmake --build "$build" -j"$(nproc)"
# End-to-end tests are RUN_SERIAL; the rest share the cores.
phase "tests (Debian's Slurm $(slurmctld -V | cut -d' ' -f2))"
ctest --test-dir "$build" -j"$(nproc)" "${ctest_args[@]}"
if [ "$releases" -eq 1 ] && [ "$quick" -eq 0 ]; then
  phase "end-to-end scenarios whose plugin code differs by release, against Slurm $e2e_release in $prefix"
  # the install step's checks too: against the prefix's slurmctld
  ACCELPACK_SLURM_PREFIX="$prefix" ctest --test-dir "$build" -L 'release|install' "${ctest_args[@]}"
fi

phase "sanitizers and fuzzers"
# Hostile input (issue 12): the unit and integration tests again under ASan+UBSan
# (clang, its own build dir), then a short libFuzzer run of the snapshot path and
# the policy loader against the plan checker; ~8 min on 2 cores with a warm
# ccache. ACCELPACK_FUZZ_SECONDS=0 skips the fuzzing; docs/fuzzing.md runs it longer.
bash "$repo/contrib/sanitize.sh" "${ACCELPACK_ASAN_BUILD_DIR:-$repo/build-asan}"
phase "done"
