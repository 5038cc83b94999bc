#!/usr/bin/env bash
# LS wakeup latency next to a BE CPU hog on the same CPU, under each way of telling the kernel
# "LS preempts BE" on cgroup v1: no policy, BE cpu.shares=2, BE cpu.idle=1, BE cfs quota cap;
# then the same on a kubelet-shaped tree (LS pod under burstable/, BE pod under besteffort/ with
# kubelet's shares=2): kubelet alone, kubelet + colo's pod-level cpu.idle=1, and that plus an
# EEVDF slice (Linux 6.12+): BE hog at 100 ms (colo's be_cpu.task_slice_us), or LS probe at 0.1 ms.
# The arms run interleaved, in a fresh random order each round, so background load hits them
# alike; the table gives pooled percentiles and the median over rounds of each round's p99.
#
#   sudo scripts/bench-kmods.sh            # ROUNDS=10 SECS=2 CPU=0 WORK_US=50 BUILD_DIR=build
#   ARMS="kube-idle kube-idle-beslice" WORK_US=400 scripts/bench-kmods.sh   # a subset, LS at 40 %
#   LS_SPIN_CPU=1 INTERVAL_US=5000 ARMS="kube-idle kube-idle-beslice" scripts/bench-kmods.sh
#       # the LS pod also keeps CPU 1 busy: its group weight on the probe's CPU follows its load
#       # there, which is small, as for a service whose threads mostly run on other CPUs
#
# Needs root, cgroup v1 cpu controller, and colo_wakeup_latency built (target of kmods-free/).
# Prints a markdown table: LS wakeup latency p50/p99/p99.9/max and the CPU share the BE hog got.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-10}
SECS=${SECS:-2}
CPU=${CPU:-0}
QUOTA_US=${QUOTA_US:-50000}   # quota arm: BE capped at QUOTA_US per 100 ms period
WORK_US=${WORK_US:-50}        # the probe's work per wakeup
INTERVAL_US=${INTERVAL_US:-1000}  # the probe's wakeup period
LS_SPIN_CPU=${LS_SPIN_CPU:-}  # when set: a busy loop in the LS pod on this CPU for the whole run
BE_SLICE_NS=${BE_SLICE_NS:-100000000}
LS_SLICE_NS=${LS_SLICE_NS:-100000}
BUILD_DIR=${BUILD_DIR:-build}
PROBE=${PROBE:-$BUILD_DIR/kmods-free/colo_wakeup_latency}

[[ $(id -u) -eq 0 ]] || { echo "bench-kmods: run as root" >&2; exit 1; }
[[ -x $PROBE ]] || { echo "bench-kmods: $PROBE missing: cmake --build $BUILD_DIR --target colo_wakeup_latency" >&2; exit 1; }
CPUROOT=$(awk '$9 == "cgroup" && $NF ~ /(^|,)cpu(,|$)/ {print $5; exit}' /proc/self/mountinfo)
[[ -n $CPUROOT ]] || { echo "bench-kmods: no cgroup v1 cpu hierarchy" >&2; exit 1; }

TOP=$CPUROOT/colo-test-bench-kmods-$$
OUT=$(mktemp -d /tmp/colo-bench-kmods.XXXXXX)
HOG=""
LS_SPIN=""
cleanup() {
  [[ -n $HOG ]] && kill -9 "$HOG" 2>/dev/null || true
  [[ -n $LS_SPIN ]] && kill -9 "$LS_SPIN" 2>/dev/null || true
  for d in "$TOP/kp/besteffort/podbe" "$TOP/kp/besteffort" "$TOP/kp/burstable/podls" \
    "$TOP/kp/burstable" "$TOP/kp" "$TOP/be" "$TOP/ls" "$TOP"; do
    [[ -d $d ]] || continue
    while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$d/cgroup.procs"
    for _ in $(seq 100); do rmdir "$d" 2>/dev/null && break; sleep 0.05; done
  done
  rm -rf "$OUT"
}
trap cleanup EXIT
mkdir -p "$TOP/ls" "$TOP/be" "$TOP/kp/burstable/podls" "$TOP/kp/besteffort/podbe"
# The machine may be busy (parallel builds): give the bench tree the maximum weight against the
# rest of the root cgroup, so the comparison happens inside it, between LS and BE.
echo 262144 >"$TOP/cpu.shares"

# set_arm ARM: sets the knobs and LS_CG/BE_CG, the cgroups the probe and the hog go to.
set_arm() {
  local be=$TOP/be
  LS_CG=$TOP/ls
  BE_CG=$be
  echo 0 >"$be/cpu.idle"
  echo 1024 >"$be/cpu.shares"
  echo -1 >"$be/cpu.cfs_quota_us"
  echo 0 >"$TOP/kp/besteffort/podbe/cpu.idle"
  echo 2 >"$TOP/kp/besteffort/cpu.shares"      # what kubelet writes
  echo 2 >"$TOP/kp/besteffort/podbe/cpu.shares"
  case $1 in
    kube | kube-idle*)
      LS_CG=$TOP/kp/burstable/podls
      BE_CG=$TOP/kp/besteffort/podbe
      if [[ $1 == kube-idle* ]]; then echo 1 >"$BE_CG/cpu.idle"; fi
      ;;
    none) ;;
    shares2) echo 2 >"$be/cpu.shares" ;;
    idle) echo 1 >"$be/cpu.idle" ;;
    quota) echo "$QUOTA_US" >"$be/cpu.cfs_quota_us" ;;
  esac
}

# CPU ticks (utime+stime) of a pid.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

read -ra ARMS <<<"${ARMS:-none shares2 idle quota kube kube-idle kube-idle-beslice kube-idle-lsslice}"
declare -A HOGTICKS=()
if [[ -n $LS_SPIN_CPU ]]; then
  sh -c "echo \$\$ >$TOP/kp/burstable/podls/cgroup.procs; exec $PROBE --cpu $LS_SPIN_CPU --spin" &
  LS_SPIN=$!
fi
for arm in "${ARMS[@]}"; do HOGTICKS[$arm]=0; done
for round in $(seq "$ROUNDS"); do
  for arm in $(printf '%s\n' "${ARMS[@]}" | shuf); do
    set_arm "$arm"
    hog_slice=() probe_slice=()
    [[ $arm == kube-idle-beslice ]] && hog_slice=(--slice-ns "$BE_SLICE_NS")
    [[ $arm == kube-idle-lsslice ]] && probe_slice=(--slice-ns "$LS_SLICE_NS")
    sh -c "echo \$\$ >$BE_CG/cgroup.procs; exec $PROBE --cpu $CPU --spin ${hog_slice[*]}" &
    HOG=$!
    sleep 0.2
    t0=$(ticks "$HOG")
    sh -c "echo \$\$ >$LS_CG/cgroup.procs; exec $PROBE --cpu $CPU --interval-us $INTERVAL_US --work-us $WORK_US ${probe_slice[*]} --duration-s $SECS --out $OUT/$arm.$round" >"$OUT/$arm.$round.summary"
    t1=$(ticks "$HOG")
    HOGTICKS[$arm]=$((HOGTICKS[$arm] + t1 - t0))
    kill -9 "$HOG"; wait "$HOG" 2>/dev/null || true; HOG=""
    echo "round $round $arm: $(cat "$OUT/$arm.$round.summary")" >&2
  done
done
set_arm none

HZCONF=$({ zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null || true; } | grep '^CONFIG_HZ=' || true)
echo "LS wakeup latency on CPU $CPU with a BE hog pinned to it; $ROUNDS x ${SECS}s per arm, interleaved in random order;"
echo "LS wakes every $INTERVAL_US us and works $WORK_US us${LS_SPIN_CPU:+; the LS pod also spins on CPU $LS_SPIN_CPU}. Kernel $(uname -r), $(nproc) CPUs, ${HZCONF:-CONFIG_HZ unknown}, load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
HZ=$(getconf CLK_TCK)
python3 - "$OUT" "$ROUNDS" "$SECS" "$HZ" "${ARMS[@]}" -- "$(for a in "${ARMS[@]}"; do printf '%s ' "${HOGTICKS[$a]}"; done)" <<'PY'
import sys, os
args = sys.argv[1:]
out, rounds, secs, hz = args[0], int(args[1]), float(args[2]), float(args[3])
sep = args.index("--")
arms = args[4:sep]
hog = [int(x) for x in args[sep + 1].split()]
label = {"none": "no policy (BE shares 1024)", "shares2": "BE cpu.shares=2",
         "idle": "BE cpu.idle=1", "quota": "BE cfs_quota cap",
         "kube": "kubelet tree: besteffort shares=2", "kube-idle": "kubelet tree + BE pod cpu.idle=1",
         "kube-idle-beslice": "kubelet tree + BE pod cpu.idle=1 + BE task slice 100 ms",
         "kube-idle-lsslice": "kubelet tree + BE pod cpu.idle=1 + LS task slice 0.1 ms"}
def pct(v, q):
    return v[min(len(v) - 1, int(q * len(v)))] / 1000
print("| BE knob | samples | LS p50 (us) | LS p99 (us) | LS p99.9 (us) | LS max (us) | median round p99 (us) | BE CPU share |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for arm, t in zip(arms, hog):
    v = []
    round_p99 = []
    for r in range(1, rounds + 1):
        with open(os.path.join(out, f"{arm}.{r}")) as f:
            rv = sorted(int(x) for x in f)
        round_p99.append(pct(rv, .99))
        v += rv
    v.sort()
    round_p99.sort()
    share = t / hz / (rounds * secs)
    print(f"| {label[arm]} | {len(v)} | {pct(v, .5):.0f} | {pct(v, .99):.0f} | {pct(v, .999):.0f} | "
          f"{v[-1]/1000:.0f} | {round_p99[len(round_p99) // 2]:.0f} | {share:.0%} |")
PY
