#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The sanitizer build and the fuzz smoke run (issue 12), as contrib/test.sh runs them:
# builds only the unit/integration test targets and the fuzzers with clang,
# -fsanitize=address,undefined (any report fails), runs the tests, then each fuzzer
# for ACCELPACK_FUZZ_SECONDS (default 45) from the committed corpus.
#
#   bash contrib/sanitize.sh [BUILD_DIR]      default: build-asan
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
asan="${1:-$repo/build-asan}"
seconds="${ACCELPACK_FUZZ_SECONDS:-45}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

CC=clang CXX=clang++ cmake -S "$repo" -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DACCELPACK_SANITIZE=ON -DACCELPACK_BUILD_FUZZERS=ON -DACCELPACK_BUILD_TESTS=ON \
  -DACCELPACK_BUILD_PLUGIN=ON "${launcher[@]}" >/dev/null
tests=(tests/engine/engine_tests tests/sim/sim_tests tests/fuzz/plan_checker_tests
       tests/service/daemon_tests tests/plugin/plugin_tests tests/probe/probe_tests)
targets=(fuzz_snapshot fuzz_policy)
for t in "${tests[@]}"; do targets+=("$(basename "$t")"); done
cmake --build "$asan" -j"$(nproc)" --target "${targets[@]}"

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Leaks inside the system's gRPC/protobuf/absl (one-time globals) are not ours.
export LSAN_OPTIONS="suppressions=$repo/tests/fuzz/lsan.supp:print_suppressions=0"
for t in "${tests[@]}"; do
  echo "sanitize: $t"
  # The probe parses a crashing hwloc export in a forked child first (docs/probe.md,
  # "Untrusted exports"): ASan's SEGV reports in libhwloc below are that child's.
  if [[ "$t" == */probe_tests ]]; then
    echo "sanitize: SEGV reports in libhwloc below are the contained parse's child, expected"
  fi
  (cd "$asan/$(dirname "$t")" && "./$(basename "$t")" --gtest_brief=1)
done

[ "$seconds" = 0 ] && exit 0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in snapshot policy; do
  echo "sanitize: fuzz_$target for ${seconds} s"
  mkdir -p "$work/$target" "$asan/fuzz-artifacts"
  # New inputs go to a scratch corpus; the committed one is only read.
  "$asan/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$asan/fuzz-artifacts/$target-" \
    "$work/$target" "$repo/tests/fuzz/corpus/$target" 2>&1 | tail -n 12
done
