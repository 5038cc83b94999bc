#!/usr/bin/env bash
# Installs dependencies, builds and runs every test (unit, bpf, e2e). As root, privileged tests
# must run: COLO_REQUIRE_PRIVILEGED_TESTS=1 turns their skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -eq 0 ]]; then
  scripts/install-deps.sh
  export COLO_REQUIRE_PRIVILEGED_TESTS=${COLO_REQUIRE_PRIVILEGED_TESTS:-1}
fi
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 300 "$@"
