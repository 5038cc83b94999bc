#!/usr/bin/env bash
# Agent cost with enforcement on: a kubelet-shaped colo-test-* tree of N containers (a few busy,
# mostly idle sleepers), colod at a 100 ms tick with a policy: section, then RSS (VmRSS/VmHWM) and
# CPU time (utime+stime from /proc/<pid>/stat) over SECS seconds. CPU time, not wall time, so the
# machine's other load does not inflate it. Root. Prints the figures; removes everything.
#
#   BUILD_DIR=build-h7 N=200 BUSY=4 SECS=60 scripts/bench-agent-cost.sh
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
  id=$(printf '%064x' "$i")
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
"$COLOD" --config="$WORK/colod.yaml" --cgroup_root="/$TOP/kubepods" --tick_ms="$TICK_MS" \
  --api_socket="$WORK/colod.sock" --pin_dir="$PIN" --state_dir="$WORK/state" \
  --feature_probe_cgroup="$TOP-probe" >"$WORK/colod.log" 2>&1 &
COLOD_PID=$!
for _ in $(seq 100); do [[ -S $WORK/colod.sock ]] && break; sleep 0.2; done
sleep 5  # warm-up: start scan, first plans written
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$COLOD_PID/stat"; }
c0=$(cpu); t0=$(date +%s.%N)
sleep "$SECS"
c1=$(cpu); t1=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$COLOD_PID/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$COLOD_PID/status")
wall=$(echo "$t1 - $t0" | bc -l)
cpu_s=$(echo "($c1 - $c0) / $hz" | bc -l)
pct=$(echo "100 * $cpu_s / $wall" | bc -l)
watched=$(curl -s --unix-socket "$WORK/colod.sock" http://x/metrics | awk '/^colo_agent_containers\{/ {s += $2} END {print s}')
writes=$(curl -s --unix-socket "$WORK/colod.sock" http://x/metrics | awk '/^colo_executor_writes_total/ {print $2}')
printf 'containers watched: %s, executor writes: %s\n' "$watched" "$writes"
printf 'colod CPU: %.2f s over %.1f s = %.2f %% of a core (tick %s ms)\n' "$cpu_s" "$wall" "$pct" "$TICK_MS"
printf 'colod RSS: VmRSS %.1f MiB, VmHWM %.1f MiB\n' "$(echo "$rss/1024" | bc -l)" "$(echo "$hwm/1024" | bc -l)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
