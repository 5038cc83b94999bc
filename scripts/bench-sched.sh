#!/usr/bin/env bash
# Cost of the sched BPF programs per scheduler event.
#
# A one-CPU pipe ping-pong (perf bench sched pipe, both processes pinned to one CPU with
# taskset) runs REPS times without and REPS times with the programs loaded (colo-bpf-bench holds
# them; it marks the benchmark's own cgroup tier LS so every event takes the full path), the two
# alternating and swapping order each repetition. One ping-pong round trip is 4 scheduler events
# (2 sched_wakeup + 2 sched_switch), so
#   ns/event = (usecs/op with - usecs/op without) * 1000 / 4.
# (With the sched_info delay source, the default where the kernel has it, only the 2
# sched_switch runs carry a program; ns/event keeps dividing by 4 so figures stay comparable.)
# Then one more run with kernel.bpf_stats_enabled=1 reads run_time_ns/run_cnt of each program
# (the loader prints them at exit, as `bpftool prog show` would): the in-program cost, without the
# tracepoint dispatch. Without perf, colo-pingpong (same ping-pong) is used.
#
# Usage (root): scripts/bench-sched.sh            env: BUILD_DIR (build), REPS (5),
#               LOOPS (200000), CPU (last CPU), MODE (tp_btf | raw_tp),
#               LOADER_ARGS (extra colo-bpf-bench flags, e.g. "--track_unclassified=false
#               --classify_own_cgroup=false" for the early-exit path, "--wakeup_delays" for
#               the sched_wakeup delay source)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
REPS=${REPS:-5}
LOOPS=${LOOPS:-200000}
CPU=${CPU:-$(($(nproc) - 1))}
MODE=${MODE:-tp_btf}
LOADER="$BUILD_DIR/userspace/bpf/colo-bpf-bench"
PINGPONG_BIN="$BUILD_DIR/userspace/bpf/colo-pingpong"

die() { echo "bench-sched: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (loads BPF programs)"
[[ -x $LOADER ]] || die "no $LOADER: build it first (cmake --build $BUILD_DIR --target colo-bpf-bench)"
if command -v perf >/dev/null && perf bench sched pipe -l 1000 >/dev/null 2>&1; then
  PINGPONG="perf bench sched pipe"
else
  [[ -x $PINGPONG_BIN ]] || die "neither perf (apt-get install linux-perf) nor $PINGPONG_BIN"
  PINGPONG="colo-pingpong"
fi

read -r -a loader_args <<<"${LOADER_ARGS:-}"
[[ $MODE == raw_tp ]] && loader_args+=(--raw_tp)

tmp=$(mktemp -d)
loader_pid=""
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
  [[ -n $loader_pid ]] && kill "$loader_pid" 2>/dev/null && wait "$loader_pid" 2>/dev/null
  sysctl -qw kernel.bpf_stats_enabled="$old_stats"
  rm -rf "$tmp"
}
trap cleanup EXIT

start_loader() {
  : >"$tmp/loader.out"
  "$LOADER" "${loader_args[@]}" >"$tmp/loader.out" 2>"$tmp/loader.err" &
  loader_pid=$!
  for _ in $(seq 1 200); do
    grep -q '^ready' "$tmp/loader.out" && return 0
    kill -0 "$loader_pid" 2>/dev/null || { cat "$tmp/loader.err" >&2; die "loader exited"; }
    sleep 0.05
  done
  die "loader not ready after 10 s"
}
stop_loader() {
  kill -INT "$loader_pid"
  wait "$loader_pid" || true
  loader_pid=""
}

# usecs/op of one ping-pong run
pingpong() {
  if [[ $PINGPONG == colo-pingpong ]]; then
    taskset -c "$CPU" "$PINGPONG_BIN" "$LOOPS"
  else
    taskset -c "$CPU" perf bench sched pipe -l "$LOOPS" 2>/dev/null
  fi | awk '/usecs\/op/ {print $1}'
}

sysctl -qw kernel.bpf_stats_enabled=0
without=()
with=()
for rep in $(seq 1 "$REPS"); do
  if ((rep % 2)); then order="without with"; else order="with without"; fi
  for what in $order; do
    if [[ $what == with ]]; then
      start_loader
      v=$(pingpong)
      stop_loader
      with+=("$v")
    else
      v=$(pingpong)
      without+=("$v")
    fi
    printf 'rep %d %-8s %s usecs/op\n' "$rep" "$what" "$v"
  done
done

# Per-program cost with bpf_stats_enabled.
sysctl -qw kernel.bpf_stats_enabled=1
start_loader
pingpong >/dev/null
stop_loader
sysctl -qw kernel.bpf_stats_enabled="$old_stats"

python3 - "$tmp/loader.out" "${without[*]}" "${with[*]}" "$LOOPS" "$CPU" "$MODE" "${LOADER_ARGS:-}" "$PINGPONG" <<'EOF'
import json, statistics, sys
progs_path, without, with_, loops, cpu, mode, loader, pingpong = sys.argv[1:9]
without = [float(x) for x in without.split()]
with_ = [float(x) for x in with_.split()]
mw, mb = statistics.median(without), statistics.median(with_)
# Each repetition runs the two back to back: their ratio cancels most of the drift that other
# load on the machine causes between repetitions.
ratios = [b / a for a, b in zip(without, with_)]
deltas = [(b - a) * 1000 / 4 for a, b in zip(without, with_)]
print()
print(f"{pingpong} -l {loops}, pinned to CPU {cpu}, {len(without)} reps each, mode {mode}, "
      f"loader args: {loader or '(none)'}")
print(f"  without programs: median {mw:.3f} usecs/op  (runs: {', '.join(f'{x:.3f}' for x in without)})")
print(f"  with programs:    median {mb:.3f} usecs/op  (runs: {', '.join(f'{x:.3f}' for x in with_)})")
print(f"  ratio of medians: {mb / mw:.3f}  (overhead {100 * (mb / mw - 1):+.1f} %), "
      f"{(mb - mw) * 1000 / 4:.0f} ns per scheduler event (4 per round trip)")
print(f"  per-repetition ratios: {', '.join(f'{r:.3f}' for r in ratios)}; "
      f"median {statistics.median(ratios):.3f} (overhead {100 * (statistics.median(ratios) - 1):+.1f} %)")
print(f"  per-repetition ns/event: {', '.join(f'{d:.0f}' for d in deltas)}; "
      f"median {statistics.median(deltas):.0f} ns")
print()
print("per program (kernel.bpf_stats_enabled=1, one extra run; includes idle time of the loader):")
for line in open(progs_path):
    f = line.split()
    if len(f) != 6 or f[0] != "prog":
        continue
    name, cnt, ns = f[1], int(f[3]), int(f[5])
    if cnt:
        print(f"  {name:<16} run_cnt {cnt:>10}  run_time_ns {ns:>12}  {ns / cnt:6.0f} ns/event")
EOF
