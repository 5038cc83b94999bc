#!/usr/bin/env bash
# Agent cost with enforcement on: a kubelet-shaped colo-test-* tree of N containers (a few busy,
# mostly idle sleepers), colod at a 100 ms tick with a policy: section, then RSS (VmRSS/VmHWM) and
# CPU time over SECS seconds: the sum over colod's threads of /proc/<pid>/task/*/schedstat's
# on-CPU nanoseconds (utime+stime from /proc/<pid>/stat count in 10 ms ticks: +-3 % at 0.3 s).
# CPU time, not wall time, so the machine's other load does not inflate it. Root. Prints the
# figures; removes everything.
#
#   BUILD_DIR=build-h7 N=200 BUSY=4 SECS=60 scripts/bench-agent-cost.sh
#   COMPARE_ITER=1 REPS=3 SECS=20 scripts/bench-agent-cost.sh   # BPF cgroup iterator vs cgroup
#       files (--cgroup_iter=false), alternating on the same tree: per-rep figures and the ratio
#   COLOD_BEFORE=/path/to/old/colod REPS=3 SECS=20 scripts/bench-agent-cost.sh   # vs a build
#   PERF_OUT=/tmp/colod.perf SECS=30 scripts/bench-agent-cost.sh   # also a perf profile (cpu-clock,
#       call graphs) of colod over the measured seconds: perf report -i /tmp/colod.perf
set -euo pipefail
BUILD_DIR=${BUILD_DIR:-build}
N=${N:-200}
BUSY=${BUSY:-4}
SECS=${SECS:-60}
TICK_MS=${TICK_MS:-100}
COLOD=${COLOD:-$BUILD_DIR/userspace/agent/colod}
[[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 1; }
[[ -x $COLOD ]] || { echo "no colod at $COLOD (BUILD_DIR=...)" >&2; exit 1; }

TOP=colo-test-bench-cost-$$
WORK=/tmp/$TOP
PIN=/sys/fs/bpf/$TOP
mkdir -p "$WORK"
CTRLS=(cpu cpuacct cpuset memory)
v2=0
[[ -d /sys/fs/cgroup/cpu ]] || v2=1
mountof() { if ((v2)); then echo /sys/fs/cgroup; else echo "/sys/fs/cgroup/$1"; fi; }
PIDS=()
COLOD_PID=
cleanup() {
  [[ -n $COLOD_PID ]] && kill -TERM "$COLOD_PID" 2>/dev/null && wait "$COLOD_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for c in "${CTRLS[@]}"; do
    m=$(mountof "$c"); [[ -d $m/$TOP ]] || continue
    find "$m/$TOP" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rm -rf "$WORK" "$PIN"
}
trap cleanup EXIT

mk() {  # mk <rel>: the cgroup in every controller hierarchy (cpuset inherits cpus/mems)
  for c in "${CTRLS[@]}"; do
    m=$(mountof "$c")
    local d=$m/$TOP p=$m
    IFS=/ read -ra parts <<<"$1"
    for part in "" "${parts[@]}"; do
      [[ -n $part ]] && d=$d/$part
      if [[ ! -d $d ]]; then
        mkdir "$d"
        if [[ $c == cpuset && -f $d/cpuset.cpus ]]; then
          cat "$p/cpuset.cpus" >"$d/cpuset.cpus"; cat "$p/cpuset.mems" >"$d/cpuset.mems"
        fi
      fi
      p=$d
    done
    if ((v2)); then break; fi
  done
}
addpid() { for c in "${CTRLS[@]}"; do echo "$2" >"$(mountof "$c")/$TOP/$1/cgroup.procs"; if ((v2)); then break; fi; done; }

for ((i = 0; i < N; i++)); do
  uid=$(printf '%08x-0000-0000-0000-%012x' "$i" "$i")
  id=$(printf '%064x' "$i" | sha256sum | cut -c1-64)  # container ids are random hex
  case $((i % 3)) in
    0) rel=kubepods/besteffort/pod$uid/$id ;;
    1) rel=kubepods/burstable/pod$uid/$id ;;
    2) rel=kubepods/pod$uid/$id ;;
  esac
  mk "$rel"
  if ((i < BUSY)); then
    sh -c 'while :; do :; done' & else sleep 100000 &
  fi
  PIDS+=($!)
  addpid "$rel" $!
done
echo "tree: $N containers ($BUSY busy) under $TOP; load: $(cut -d' ' -f1-3 /proc/loadavg)"

cat >"$WORK/colod.yaml" <<YAML
policy:
  be_cpu: {safety_watermark: 0.9}
YAML
# oncpu_ns PID: nanoseconds PID's threads have run (colod's threads live as long as it does).
oncpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }
# measure ARGS...: one colod run with extra ARGS; prints "<cpu %> <VmRSS KiB> <VmHWM KiB>
# <watched> <writes>" on stdout, the human-readable lines on stderr.
measure() {
  rm -f "$WORK/colod.sock"
  "${BIN:-$COLOD}" --config="$WORK/colod.yaml" --cgroup_root="/$TOP/kubepods" --tick_ms="$TICK_MS" \
    --api_socket="$WORK/colod.sock" --pin_dir="$PIN" --state_dir="$WORK/state" \
    --feature_probe_cgroup="$TOP-probe" "$@" >>"$WORK/colod.log" 2>&1 &
  COLOD_PID=$!
  for _ in $(seq 100); do [[ -S $WORK/colod.sock ]] && break; sleep 0.2; done
  sleep 5  # warm-up: start scan, first plans written
  local c0 c1 t0 t1 rss hwm wall cpu_s pct watched writes
  c0=$(oncpu_ns "$COLOD_PID"); t0=$(date +%s.%N)
  if [[ -n ${PERF_OUT:-} ]]; then
    perf record -q -e cpu-clock -F 2000 --call-graph ${PERF_CALLGRAPH:-fp} -p "$COLOD_PID" -o "$PERF_OUT" -- sleep "$SECS" >/dev/null 2>&1
  else
    sleep "$SECS"
  fi
  c1=$(oncpu_ns "$COLOD_PID"); t1=$(date +%s.%N)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$COLOD_PID/status")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$COLOD_PID/status")
  wall=$(echo "$t1 - $t0" | bc -l)
  cpu_s=$(echo "($c1 - $c0) / 1000000000" | bc -l)
  pct=$(echo "100 * $cpu_s / $wall" | bc -l)
  watched=$(curl -s --unix-socket "$WORK/colod.sock" http://x/metrics | awk '/^colo_agent_containers\{/ {s += $2} END {print s}')
  writes=$(curl -s --unix-socket "$WORK/colod.sock" http://x/metrics | awk '/^colo_executor_writes_total/ {print $2}')
  kill -TERM "$COLOD_PID"; wait "$COLOD_PID" 2>/dev/null || true; COLOD_PID=
  printf 'colod %s: containers watched %s, executor writes %s\n' "${*:-(defaults)}" "$watched" "$writes" >&2
  printf '  CPU: %.3f s over %.1f s = %.2f %% of a core (tick %s ms); VmRSS %.1f MiB, VmHWM %.1f MiB\n' \
    "$cpu_s" "$wall" "$pct" "$TICK_MS" "$(echo "$rss/1024" | bc -l)" "$(echo "$hwm/1024" | bc -l)" >&2
  echo "$pct $rss $hwm $watched $writes"
}

# side_by_side LABEL_A LABEL_B BIN_B [ARGS_B...]: REPS runs of colod as built (A) alternating
# with REPS runs of BIN_B (empty: the same colod) with ARGS_B, on the same tree, so the
# machine's other load hits both alike; prints per-rep CPU and the median paired ratio A/B.
side_by_side() {
  local label_a=$1 label_b=$2 bin_b=$3 r
  shift 3
  local a=() b=()
  for ((r = 1; r <= ${REPS:-3}; r++)); do
    a+=("$(measure | cut -d' ' -f1)")
    b+=("$(BIN=$bin_b measure "$@" | cut -d' ' -f1)")
  done
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 - "$label_a" "$label_b" "${a[*]}" "${b[*]}" <<'PY'
import statistics, sys
la, lb = sys.argv[1], sys.argv[2]
a = [float(x) for x in sys.argv[3].split()]
b = [float(x) for x in sys.argv[4].split()]
r = [x / y for x, y in zip(a, b)]
print("colod CPU, %% of a core, per rep: %s %s; %s %s" % (
    la, " ".join("%.2f" % x for x in a), lb, " ".join("%.2f" % x for x in b)))
print("median: %s %.2f %%, %s %.2f %%; %s/%s ratio median %.2f (%.2f-%.2f)" % (
    la, statistics.median(a), lb, statistics.median(b), la, lb, statistics.median(r), min(r),
    max(r)))
PY
}

if [[ -n ${COLOD_BEFORE:-} ]]; then
  [[ -x $COLOD_BEFORE ]] || { echo "no colod at $COLOD_BEFORE" >&2; exit 1; }
  side_by_side "this build" before "$COLOD_BEFORE"
  exit 0
fi
if [[ ${COMPARE_ITER:-0} == 1 ]]; then
  side_by_side iterator files "" --cgroup_iter=false
  exit 0
fi

measure >/dev/null
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
