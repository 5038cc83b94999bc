#!/usr/bin/env bash
# Latency-guard reaction time: a step in LS load (an LS hog starts on the CPU of an LS probe that
# wakes every 1 ms), and the time from the BPF timestamp of the latency event that triggers the
# squeeze to the BE squeeze being verified in cgroupfs, as colod reports it
# (colo_guard_reaction_seconds, colo_guard_reaction_last_seconds). ROUNDS steps. Root.
#
#   BUILD_DIR=build-h7 ROUNDS=5 scripts/bench-reaction.sh
set -euo pipefail
BUILD_DIR=${BUILD_DIR:-build}
ROUNDS=${ROUNDS:-5}
COLOD=${COLOD:-$BUILD_DIR/userspace/agent/colod}
PROBE=${PROBE:-$BUILD_DIR/kmods-free/colo_wakeup_latency}
[[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 1; }
[[ -x $COLOD && -x $PROBE ]] || { echo "need $COLOD and $PROBE (BUILD_DIR=...)" >&2; exit 1; }
[[ -d /sys/fs/cgroup/cpu ]] || { echo "this script drives the cgroup v1 layout" >&2; exit 1; }

TOP=colo-test-bench-reaction-$$
WORK=/tmp/$TOP
PIN=/sys/fs/bpf/$TOP
CTRLS=(cpu cpuacct cpuset memory)
mkdir -p "$WORK"
PIDS=()
COLOD_PID=
cleanup() {
  [[ -n $COLOD_PID ]] && kill -TERM "$COLOD_PID" 2>/dev/null && wait "$COLOD_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for c in "${CTRLS[@]}"; do
    [[ -d /sys/fs/cgroup/$c/$TOP ]] && find "/sys/fs/cgroup/$c/$TOP" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rm -rf "$WORK" "$PIN"
}
trap cleanup EXIT
mk() {
  for c in "${CTRLS[@]}"; do
    local d=/sys/fs/cgroup/$c/$TOP p=/sys/fs/cgroup/$c
    IFS=/ read -ra parts <<<"$1"
    for part in "" "${parts[@]}"; do
      [[ -n $part ]] && d=$d/$part
      if [[ ! -d $d ]]; then
        mkdir "$d"
        if [[ $c == cpuset ]]; then cat "$p/cpuset.cpus" >"$d/cpuset.cpus"; cat "$p/cpuset.mems" >"$d/cpuset.mems"; fi
      fi
      p=$d
    done
  done
}
addpid() { for c in "${CTRLS[@]}"; do echo "$2" >"/sys/fs/cgroup/$c/$TOP/$1/cgroup.procs"; done; }
BE=kubepods/besteffort/podbe000000-0000-0000-0000-000000000000/$(printf 'b%.0s' {1..64})
LS=kubepods/burstable/pod15000000-0000-0000-0000-000000000000/$(printf 'a%.0s' {1..64})
LS2=kubepods/burstable/pod25000000-0000-0000-0000-000000000000/$(printf 'c%.0s' {1..64})
for c in "$BE" "$LS" "$LS2"; do mk "$c"; done
sh -c 'while :; do :; done' & PIDS+=($!); addpid "$BE" $!
"$PROBE" --cpu 0 --interval-us 1000 --work-us 50 --duration-s 100000 --out /dev/null & PIDS+=($!); addpid "$LS" $!
cat >"$WORK/colod.yaml" <<YAML
latency_thresholds_us: {LS: 500}
policy:
  be_cpu: {safety_watermark: 1.0}
  latency_guard: {release_hold_ticks: 2, event_min_interval_ms: 200}
YAML
"$COLOD" --config="$WORK/colod.yaml" --cgroup_root="/$TOP/kubepods" --tick_ms=1000 \
  --api_socket="$WORK/colod.sock" --pin_dir="$PIN" --state_dir="$WORK/state" \
  --feature_probe_cgroup="$TOP-probe" >"$WORK/colod.log" 2>&1 &
COLOD_PID=$!
for _ in $(seq 100); do [[ -S $WORK/colod.sock ]] && break; sleep 0.2; done
sleep 3
metric() { curl -s --unix-socket "$WORK/colod.sock" http://x/metrics | awk -v m="$1" '$1 == m {print $2}'; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= ROUNDS; r++)); do
  before=$(metric colo_guard_reaction_seconds_count)
  taskset -c 0 sh -c 'while :; do :; done' & hog=$!; addpid "$LS2" $hog
  for _ in $(seq 100); do [[ $(metric colo_guard_reaction_seconds_count) != "$before" ]] && break; sleep 0.1; done
  kill -KILL $hog; wait $hog 2>/dev/null || true
  printf 'round %d: reaction %s s\n' "$r" "$(metric colo_guard_reaction_last_seconds)"
  # let the guard release before the next step
  for _ in $(seq 150); do curl -s --unix-socket "$WORK/colod.sock" http://x/v1/controllers | grep -q '"limit_cpus":null' && break; sleep 0.2; done
done
curl -s --unix-socket "$WORK/colod.sock" http://x/metrics | grep '^colo_guard_reaction'
grep 'latency guard: BE squeezed' "$WORK/colod.log" || true
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
