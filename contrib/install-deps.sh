#!/usr/bin/env bash
# Installs every package accelpack needs to build, test and run on Debian 12.
# Idempotent: packages already present are left alone; safe to run as often as needed.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (it calls apt-get)" >&2
  exit 1
fi

packages=(
  # build
  build-essential cmake pkg-config git clang-format
  # compiler cache for contrib/test.sh's builds (kept in /var/cache/accelpack/ccache)
  ccache
  # gRPC + protobuf: the contract between plugin, core and CLI
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # hwloc: the node probe
  libhwloc-dev hwloc
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # the sanitizer build and the fuzzers (clang's libFuzzer, ASan, UBSan)
  clang libclang-rt-14-dev
  # config, CLI, logging, JSON
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  # the real Slurm cluster for end-to-end tests and the quickstart
  slurmctld slurmd slurm-client munge libslurm-dev dpkg-dev
  # building a Slurm release from its tarball (contrib/slurm-prefix.sh)
  libmunge-dev
  # tools used by the scripts
  procps psmisc iproute2 util-linux python3 curl
  # /metrics in accelpackd; Prometheus for its end-to-end test (run directly, no systemd)
  libcpp-httplib-dev prometheus
  # the simulator's LP lower bound (accelpack-sim bound; optional at build time)
  libglpk-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh cloud machine may still be running unattended-upgrades: wait for its lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all packages present"
