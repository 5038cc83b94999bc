#!/usr/bin/env bash
# Fails when clang-format would change any C/C++ file (userspace style at the root, kernel style
# in bpf/).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format not installed" >&2; exit 1; }
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "check-format: $f needs clang-format -i" >&2
    bad=1
  fi
done < <(git ls-files '*.c' '*.h' '*.cc' | grep -v '^bpf/vmlinux/')
exit $bad
