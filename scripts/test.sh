#!/usr/bin/env bash
# Installs dependencies, builds and runs every test (unit, bpf, e2e). As root, privileged tests
# must run: COLO_REQUIRE_PRIVILEGED_TESTS=1 turns their skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -eq 0 ]]; then
  scripts/install-deps.sh
  export COLO_REQUIRE_PRIVILEGED_TESTS=${COLO_REQUIRE_PRIVILEGED_TESTS:-1}
  # The BPF tests pin maps under /sys/fs/bpf; minimal machines boot without bpffs mounted there.
  if ! mountpoint -q /sys/fs/bpf; then
    mount -t bpf bpf /sys/fs/bpf || { echo "test.sh: mount bpffs at /sys/fs/bpf failed" >&2; exit 1; }
  fi
fi
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 300 "$@"
