#!/usr/bin/env bash
# Installs colo's Debian build, test and demo dependencies. Idempotent; run as root.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: run as root (it calls apt-get install)" >&2
  exit 1
fi

# Build: clang 16 for BPF (clang 14 crashes on some CO-RE reads), libbpf/bpftool for skeletons.
build_pkgs=(cmake ninja-build g++ pkg-config clang-16 llvm-16 libbpf-dev bpftool libelf-dev
  zlib1g-dev libgflags-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libsimdjson-dev
  libssl-dev libgtest-dev libgmock-dev clang-format)
# Tests, benchmarks and the demo drive real programs from Debian.
run_pkgs=(stress-ng wrk nginx-light redis-server redis-tools gnuplot-nox linux-perf procps
  util-linux python3)

missing=()
for p in "${build_pkgs[@]}" "${run_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all dependencies present"
  exit 0
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts these services on install; colo's tests and demo run their own instances.
for svc in nginx redis-server; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
echo "install-deps.sh: done"
