#!/usr/bin/env bash
# Per-tick cost of reading every container's CPU figures: one read of the BPF cgroup iterator
# (bpf/cgstat.bpf.c, CgroupStatIter) versus the agent's pread(2) of cpu.stat + cpuacct.usage per
# cgroup (fds kept open, offset 0).
#
# Creates colo-test-cgstat-bench-<pid> with LEAVES empty leaf cgroups in the cpu hierarchy (and
# the same tree in cpuacct on a v1 host where it is a separate hierarchy), runs
# colo-cgstat-bench over it (both methods alternate in blocks of 100 ticks in one run, TICKS
# each), then removes the tree, also on failure. REPS runs, each printed.
#
# Usage (root): scripts/bench-cgstat.sh       env: BUILD_DIR (build), LEAVES (200),
#               TICKS (2000), REPS (3)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
LEAVES=${LEAVES:-200}
TICKS=${TICKS:-2000}
REPS=${REPS:-3}
BENCH="$BUILD_DIR/userspace/bpf/colo-cgstat-bench"

die() { echo "bench-cgstat: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (loads a BPF program, creates cgroups)"
[[ -x $BENCH ]] || die "no $BENCH: build it first (cmake --build $BUILD_DIR --target colo-cgstat-bench)"

name="colo-test-cgstat-bench-$$"
cpu_mnt=$(findmnt -rn -t cgroup -O cpu -o TARGET | head -n1 || true)
acct_mnt=$(findmnt -rn -t cgroup -O cpuacct -o TARGET | head -n1 || true)
tops=()
if [[ -n $cpu_mnt ]]; then
  [[ -n $acct_mnt ]] || die "no cgroup v1 cpuacct hierarchy beside the cpu one"
  tops+=("$cpu_mnt/$name")
  if [[ $acct_mnt != "$cpu_mnt" ]]; then tops+=("$acct_mnt/$name"); fi
else
  v2=$(findmnt -rn -t cgroup2 -o TARGET | head -n1 || true)
  [[ -n $v2 ]] || die "no cgroup v1 cpu hierarchy and no cgroup2 mount"
  grep -qw cpu "$v2/cgroup.subtree_control" ||
    die "cgroup v2 root does not enable the cpu controller for its children"
  tops+=("$v2/$name")
fi

cleanup() {
  for top in "${tops[@]}"; do
    [[ -d $top ]] || continue
    find "$top" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$top" 2>/dev/null || echo "bench-cgstat: could not remove $top" >&2
  done
}
trap cleanup EXIT INT TERM

for top in "${tops[@]}"; do
  mkdir "$top"
  if [[ -z $cpu_mnt ]]; then echo +cpu >"$top/cgroup.subtree_control"; fi
  for i in $(seq -w 1 "$LEAVES"); do mkdir "$top/c$i"; done
done

args=(--dir="${tops[0]}" --ticks="$TICKS")
if [[ -n $cpu_mnt ]]; then
  args+=(--cpuacct_dir="${tops[1]:-${tops[0]}}")
fi
echo "# $(uname -r), $(nproc) CPUs, $LEAVES leaves under ${tops[0]}"
for rep in $(seq 1 "$REPS"); do
  echo "## run $rep"
  "$BENCH" "${args[@]}"
done
