#!/usr/bin/env bash
# Interference benchmark with real programs: an LS service (nginx driven by wrk, or redis-server
# driven by redis-benchmark) in a burstable pod and stress-ng CPU + memory-bandwidth stressors in
# a besteffort pod of a kubelet-shaped cgroup tree, under five arms run interleaved (fresh random
# order per repetition):
#
#   ls-alone   LS service + its client, no BE
#   be-alone   stress-ng alone (the reference for BE work done)
#   none       LS + BE, no policy: BE at the default weight (besteffort and BE pod cpu.shares=1024)
#   k8s        LS + BE with Kubernetes' static default: besteffort, BE pod and container shares 2
#   colod      the k8s arm plus the real colod (policy engine + enforcement) on the tree
#   colod-budget  (not in the default set) colod with be_cpu.mode: budget, the watermark budget
#              whatever the kernel offers — to compare with the default mode side by side
#   colod-slice (not in the default set) colod with be_cpu.task_slice_us: 100000 (BE tasks at a
#              100 ms EEVDF slice, opt-in) — what the long BE slice does, side by side
#
# LS p50/p99 and throughput are reported as ratios to LS alone, BE work (stress-ng bogo ops/s) as
# a ratio to BE alone, each ratio paired within a repetition; the table gives the median and the
# min–max over repetitions. The paced shape also gives BE's share of the CPU that LS leaves idle.
#
#   sudo scripts/bench-interference.sh --all                 # both LS kinds x both shapes
#   sudo scripts/bench-interference.sh --ls redis --shape paced --reps 5 --duration 20
#   sudo scripts/bench-interference.sh --quick               # 1 rep x 3 s, to check it runs
#
# Needs root, cgroups (v1 cpu/cpuacct/cpuset/memory, or v2), Debian packages nginx-light, wrk,
# redis, stress-ng, and colod built: cmake --build build --target colod.
# See docs/BENCHMARKS.md (interference section) for what it measures and how to read it.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
HERE=$REPO/scripts/bench

usage() {
  cat <<EOF
usage: $0 [options]
  --ls nginx|redis         LS service (default nginx)
  --shape saturating|paced load shape (default saturating)
  --all                    every LS kind x every shape in one run (ignores --ls/--shape)
  --reps N                 repetitions, arms interleaved in random order per repetition (default 3)
  --duration S             measured seconds per arm (default 10)
  --quick                  --reps 1 --duration 3 (a smoke run; figures meaningless)
  --out DIR                results directory (default /tmp/colo-bench-interference-<utc time>)
  --build-dir DIR          where colod is built (default build)
  --client-in-ls           run the load generator as an LS pod under kubepods/burstable instead of
                           in its own cgroup beside kubepods (see docs/BENCHMARKS.md)
  --arms LIST              comma-separated subset of ls-alone,be-alone,none,k8s,colod,colod-budget,
                           colod-slice (default: all but colod-budget and colod-slice)
  --be-cpu N               stress-ng --cpu instances (default: number of online CPUs)
  --be-stream N            stress-ng --stream instances (default 1; 0: none, CPU stressors only)
  --client-cpu N           CPU the load generator is pinned to (default: the last online CPU)
  --pace-fraction F        paced nginx: request rate as a fraction of the flat-out rate (0.5)
  --rate R                 paced nginx: wrk request rate (default: --pace-fraction x flat out)
  --redis-paced-clients N  paced redis: redis-benchmark clients, closed loop (default 2)
  --colod-tick-ms T        colod tick (default 500)
  --colod-config FILE      extra YAML appended to colod's generated config (e.g. a policy: map)
EOF
}

LS_KIND=nginx
SHAPE=saturating
ALL=0
REPS=3
DURATION=10
OUT=""
BUILD_DIR=build
ARMS_CSV="ls-alone,be-alone,none,k8s,colod"
NCPU=$(nproc)
BE_CPU=$NCPU
BE_STREAM=1
CLIENT_CPU=$((NCPU - 1))
CLIENT_IN_LS=0
PACE_FRACTION=0.5
RATE=""
REDIS_PACED_CLIENTS=2
COLOD_TICK_MS=500
COLOD_EXTRA=""
WARMUP_S=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --ls) LS_KIND=$2; shift 2 ;;
    --shape) SHAPE=$2; shift 2 ;;
    --all) ALL=1; shift ;;
    --reps) REPS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --quick) REPS=1; DURATION=3; shift ;;
    --out) OUT=$2; shift 2 ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --arms) ARMS_CSV=$2; shift 2 ;;
    --be-cpu) BE_CPU=$2; shift 2 ;;
    --be-stream) BE_STREAM=$2; shift 2 ;;
    --client-cpu) CLIENT_CPU=$2; shift 2 ;;
    --client-in-ls) CLIENT_IN_LS=1; shift ;;
    --pace-fraction) PACE_FRACTION=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --redis-paced-clients) REDIS_PACED_CLIENTS=$2; shift 2 ;;
    --colod-tick-ms) COLOD_TICK_MS=$2; shift 2 ;;
    --colod-config) COLOD_EXTRA=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-interference: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
die() { echo "bench-interference: $*" >&2; exit 1; }
[[ $LS_KIND == nginx || $LS_KIND == redis ]] || die "--ls must be nginx or redis"
[[ $SHAPE == saturating || $SHAPE == paced ]] || die "--shape must be saturating or paced"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "--reps must be a positive integer"
[[ $BE_STREAM =~ ^[0-9]+$ ]] || die "--be-stream must be a whole number (0: no memory stressor)"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive integer (seconds)"
IFS=, read -r -a ARMS <<<"$ARMS_CSV"
for a in "${ARMS[@]}"; do
  case $a in ls-alone | be-alone | none | k8s | colod | colod-budget | colod-slice) ;; *) die "unknown arm $a" ;; esac
done

[[ $(id -u) -eq 0 ]] || die "run as root (it creates cgroups and starts colod)"
for tool in nginx wrk redis-server redis-benchmark stress-ng taskset python3; do
  command -v "$tool" >/dev/null || die "$tool missing: scripts/install-deps.sh installs it (Debian: nginx-light wrk redis stress-ng)"
done
COLOD=$BUILD_DIR/userspace/agent/colod
if [[ " ${ARMS[*]} " == *" colod"* ]]; then
  [[ -x $COLOD ]] || die "$COLOD missing: cmake --build $BUILD_DIR --target colod (or pass --build-dir)"
fi
[[ -n $OUT ]] || OUT=/tmp/colo-bench-interference-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# ---------------------------------------------------------------------------------------------
# cgroup tree: TOP/{kubepods/{burstable/pod<uid>/<ctr>,besteffort/pod<uid>/<ctr>},client}
# v1: the same directories in every mount among cpu, cpuacct, cpuset, memory; v2: one tree.
NAME=colo-test-bench-$$
mounts_v1() {
  # super options (last field after " - ") name the controllers of each v1 mount
  awk '{ for (i = 1; i <= NF; i++) if ($i == "-") break; if ($(i + 1) == "cgroup") print $5, $(i + 3) }' \
    /proc/self/mountinfo
}
v1_mount_of() { mounts_v1 | awk -v c="$1" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $1; exit } }'; }
CPU_MNT=$(v1_mount_of cpu)
if [[ -n $CPU_MNT ]]; then
  CGV=1
  CPUACCT_MNT=$(v1_mount_of cpuacct)
  CPUSET_MNT=$(v1_mount_of cpuset)
  MEMORY_MNT=$(v1_mount_of memory)
  [[ -n $CPUACCT_MNT && -n $CPUSET_MNT ]] || die "cgroup v1 without cpuacct or cpuset mounts"
  MOUNTS=()
  for m in "$CPU_MNT" "$CPUACCT_MNT" "$CPUSET_MNT" "$MEMORY_MNT"; do
    [[ -n $m && " ${MOUNTS[*]-} " != *" $m "* ]] && MOUNTS+=("$m")
  done
else
  CGV=2
  V2_MNT=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") break; if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo)
  [[ -n $V2_MNT ]] && grep -qw cpu "$V2_MNT/cgroup.controllers" || die "no cgroup v1 cpu mount and no cgroup2 with the cpu controller"
  CPU_MNT=$V2_MNT CPUACCT_MNT=$V2_MNT CPUSET_MNT=$V2_MNT MEMORY_MNT=$V2_MNT
  MOUNTS=("$V2_MNT")
fi

LS_POD=kubepods/burstable/pod1a2b3c4d-0000-4000-8000-00000000a001
LS_CTR=$LS_POD/$(printf 'a%.0s' {1..64})
BE_POD=kubepods/besteffort/pod1a2b3c4d-0000-4000-8000-00000000b001
BE_CTR=$BE_POD/$(printf 'b%.0s' {1..64})
CLIENT=client
# --client-in-ls: the load generator runs as a second LS pod (a co-located LS client service)
# instead of in its own cgroup beside kubepods, so colod protects it like any LS container.
((CLIENT_IN_LS)) && CLIENT=kubepods/burstable/podclient/client
DRIVER=driver # this script and its helpers (python, date, ...), so the bench tree cannot starve it
# parents before children
CGS=(kubepods kubepods/burstable "$LS_POD" "$LS_CTR" kubepods/besteffort "$BE_POD" "$BE_CTR" "$CLIENT" "$DRIVER")
((CLIENT_IN_LS)) && CGS=(kubepods kubepods/burstable "$LS_POD" "$LS_CTR" kubepods/besteffort "$BE_POD" "$BE_CTR" kubepods/burstable/podclient "$CLIENT" "$DRIVER")
# where this script started, per mount, to return there before the tree is removed
declare -A ORIG_CG=()
ALL_CPUS=$(cat /sys/devices/system/cpu/online)

TMP=$(mktemp -d /tmp/colo-bench-interference.XXXXXX)
PIN_DIR=/sys/fs/bpf/$NAME
PIDS_LS="" PID_BE="" PID_CLIENT="" PID_COLOD=""

alive() { [[ -e /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
stop_pid() { # stop_pid PID [SIGNAL]: signal, wait up to 5 s for it to exit, then SIGKILL
  local p=$1 sig=${2:-TERM}
  [[ -n $p ]] || return 0
  if ! alive "$p"; then
    wait "$p" 2>/dev/null || true
    return 0
  fi
  kill "-$sig" "$p" 2>/dev/null || true
  for _ in $(seq 100); do alive "$p" || break; sleep 0.05; done
  if alive "$p"; then
    echo "bench-interference: pid $p still running 5 s after SIG$sig: SIGKILL" >&2
    kill -9 "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e # clean up as much as possible, whatever fails
  stop_pid "$PID_CLIENT" INT
  stop_pid "$PID_BE" INT
  stop_pid "$PID_COLOD" TERM
  for p in $PIDS_LS; do stop_pid "$p" TERM; done
  local i d m
  for m in "${!ORIG_CG[@]}"; do echo $$ >"$m${ORIG_CG[$m]}/cgroup.procs" 2>/dev/null || true; done
  for ((i = ${#CGS[@]} - 1; i >= 0; i--)); do
    for m in "${MOUNTS[@]}"; do
      d=$m/$NAME/${CGS[i]}
      [[ -d $d ]] || continue
      while read -r p; do [[ $p == "$$" ]] || kill -9 "$p" 2>/dev/null || true; done <"$d/cgroup.procs"
      for _ in $(seq 100); do rmdir "$d" 2>/dev/null && break; sleep 0.05; done
    done
  done
  for m in "${MOUNTS[@]}"; do
    [[ -d $m/$NAME ]] && { rmdir "$m/$NAME" 2>/dev/null || echo "bench-interference: could not remove $m/$NAME" >&2; }
  done
  [[ -f $TMP/colod.log ]] && cp "$TMP/colod.log" "$OUT/colod.log"
  rm -rf "$PIN_DIR" "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# knob REL FILE VALUE: write into whichever mount has the file (quietly skip where none has it)
knob() {
  local m
  for m in "${MOUNTS[@]}"; do
    if [[ -e $m/$NAME/$1/$2 ]]; then echo "$3" >"$m/$NAME/$1/$2"; return 0; fi
  done
  [[ -z $3 || $3 == 0 ]] || echo "bench-interference: no $2 for $1" >&2
}
readknob() { local m; for m in "${MOUNTS[@]}"; do [[ -e $m/$NAME/$1/$2 ]] && { cat "$m/$NAME/$1/$2"; return; }; done; echo "?"; }
# weight: cpu.shares on v1, the kubelet's shares→weight conversion on v2
weight() {
  if ((CGV == 1)); then knob "$1" cpu.shares "$2"; else knob "$1" cpu.weight $((1 + ($2 - 2) * 9999 / 262142)); fi
}
# CPU time of a cgroup in ns
cg_cpu_ns() {
  if ((CGV == 1)); then cat "$CPUACCT_MNT/$NAME/$1/cpuacct.usage"; else
    awk '$1 == "usage_usec" {print $2 * 1000}' "$V2_MNT/$NAME/$1/cpu.stat"; fi
}

setup_tree() {
  local m c
  for m in "${MOUNTS[@]}"; do mkdir "$m/$NAME"; done
  if ((CGV == 2)); then
    echo "+cpu +cpuset +memory" >"$V2_MNT/cgroup.subtree_control" 2>/dev/null || true
    echo "+cpu +cpuset +memory" >"$V2_MNT/$NAME/cgroup.subtree_control"
  fi
  for c in "${CGS[@]}"; do
    for m in "${MOUNTS[@]}"; do mkdir -p "$m/$NAME/$c"; done
    # v2: controllers for the children of inner directories only (processes live in leaves)
    if ((CGV == 2)) && [[ $c != "$LS_CTR" && $c != "$BE_CTR" && $c != "$CLIENT" && $c != "$DRIVER" ]]; then
      echo "+cpu +cpuset +memory" >"$V2_MNT/$NAME/$c/cgroup.subtree_control"
    fi
  done
  if ((CGV == 1)); then # v1 cpuset: a cgroup takes no task before cpus and mems are set
    for c in "" "${CGS[@]}"; do
      cat "$CPUSET_MNT/cpuset.mems" >"$CPUSET_MNT/$NAME/$c/cpuset.mems"
      echo "$ALL_CPUS" >"$CPUSET_MNT/$NAME/$c/cpuset.cpus"
    done
  fi
  # The machine may be shared (parallel builds): the bench tree gets the top weight against the
  # rest of the root cgroup, so the contest happens mostly inside it. Inside: kubepods at the
  # kubelet's allocatable weight, the load generator and this script at the same weight. (Not
  # more: a group's weight on a CPU is its weight x its share of the group's load there, so a
  # client with a huge weight pinned to one CPU would shrink the whole tree's weight on the
  # others.)
  weight "" 262144
  weight kubepods $((NCPU * 1024))
  weight "$CLIENT" $((NCPU * 1024))
  weight "$DRIVER" $((NCPU * 1024))
  # move this shell into the driver cgroup (remembering where it was)
  local line rel
  for m in "${MOUNTS[@]}"; do
    if ((CGV == 2)); then rel=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup); else
      rel=$(awk -F: -v c="$(basename "$m")" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c || $2 == c) { print $3; exit } }' /proc/self/cgroup)
    fi
    [[ -n $rel && -d $m$rel ]] || rel=""
    ORIG_CG[$m]=${rel%/}
    echo $$ >"$m/$NAME/$DRIVER/cgroup.procs"
  done
  weight kubepods/burstable 1024 # sum of the burstable pods' requests: one pod, 1 CPU
  weight "$LS_POD" 1024
  weight "$LS_CTR" 1024
}

# set_arm ARM: kubelet's values for the arm; undoes whatever colod may have left
set_arm() {
  local s=2 c
  [[ $1 == none ]] && s=1024
  for c in "$BE_POD" "$BE_CTR" "$LS_POD" "$LS_CTR"; do knob "$c" cpu.idle 0; done
  if ((CGV == 1)); then
    for c in "$BE_POD" "$BE_CTR" "$LS_POD" "$LS_CTR"; do knob "$c" cpu.cfs_quota_us -1; done
    for c in kubepods/besteffort "$BE_POD" "$BE_CTR" kubepods/burstable "$LS_POD" "$LS_CTR"; do
      echo "$ALL_CPUS" >"$CPUSET_MNT/$NAME/$c/cpuset.cpus"
    done
  else
    for c in kubepods/besteffort "$BE_POD" "$BE_CTR"; do knob "$c" cpu.max max; done
    for c in "$BE_POD" "$BE_CTR" "$LS_POD" "$LS_CTR"; do knob "$c" cpuset.cpus ""; done
  fi
  weight kubepods/besteffort "$s"
  weight "$BE_POD" "$s"
  weight "$BE_CTR" "$s"
}

# in_cg REL CMD... &: exec CMD inside the cgroup (every mount). Only ever run in the background:
# it replaces the (sub)shell, so $! is CMD's pid and signals reach CMD.
in_cg() {
  local rel=$1
  shift
  local files=""
  for m in "${MOUNTS[@]}"; do files+=" $m/$NAME/$rel/cgroup.procs"; done
  # shellcheck disable=SC2016
  exec sh -c 'for f in $0; do echo $$ >"$f"; done; exec "$@"' "$files" "$@"
}

# ---------------------------------------------------------------------------------------------
# LS service
PORT=0
curl_ok=""
start_ls() {
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if [[ $LS_KIND == nginx ]]; then
    mkdir -p "$TMP/www"
    chmod 755 "$TMP" "$TMP/www" # nginx workers run as an unprivileged user
    head -c 612 /dev/zero | tr '\0' x >"$TMP/www/index.html"
    sed -e "s|@DIR@|$TMP|g" -e "s|@PORT@|$PORT|g" -e "s|@WORKERS@|$NCPU|g" \
      "$HERE/interference-nginx.conf.in" >"$TMP/nginx.conf"
    in_cg "$LS_CTR" nginx -c "$TMP/nginx.conf" -p "$TMP" -e "$TMP/nginx-error.log" \
      >"$TMP/nginx.out" 2>&1 &
  else
    in_cg "$LS_CTR" redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no \
      --dir "$TMP" --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log" --daemonize no \
      --protected-mode yes >"$TMP/redis.out" 2>&1 &
  fi
  PIDS_LS=$!
  for _ in $(seq 100); do
    if [[ $LS_KIND == nginx ]]; then
      curl_ok=$(python3 - "$PORT" <<'PY' 2>/dev/null || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
print("ok" if s.recv(64).startswith(b"HTTP/1.1 200") else "")
PY
)
      [[ $curl_ok == ok ]] && break
    else
      [[ $(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null) == PONG ]] && break
    fi
    kill -0 "$PIDS_LS" 2>/dev/null || die "$LS_KIND did not start: $(cat "$TMP"/*.out "$TMP"/*.log 2>/dev/null | tail -5)"
    sleep 0.1
  done
  [[ $curl_ok == ok || $LS_KIND == redis ]] || die "nginx on port $PORT does not answer 200: $(tail -3 "$TMP/nginx-error.log" 2>/dev/null)"
  [[ $LS_KIND == nginx ]] || [[ $(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null) == PONG ]] || die "redis on port $PORT does not answer PING: $(tail -3 "$TMP/redis.log")"
  if [[ $LS_KIND == redis ]]; then # keys for GET to find
    taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$PORT" -t set -n 100000 -r 100000 -q >/dev/null
  fi
  echo "bench-interference: $LS_KIND on 127.0.0.1:$PORT (pid $PIDS_LS) in $LS_CTR" >&2
}
stop_ls() {
  stop_pid "$PIDS_LS" TERM
  PIDS_LS=""
}

# Load generator, pinned to CLIENT_CPU, in the client cgroup (outside kubepods).
# run_client FILE SECONDS: writes "rps p50_us p99_us requests errors" to FILE.
WRK_CONNS_SAT=64
WRK_CONNS_PACED=128
REDIS_CLIENTS_SAT=50
REDIS_N=0 # redis-benchmark request count (calibrated: it has no duration option)
run_client() {
  local f=$1 secs=$2
  if [[ $LS_KIND == nginx ]]; then
    local rate=0 conns=$WRK_CONNS_SAT
    [[ $SHAPE == paced && -n $RATE ]] && { rate=$RATE; conns=$WRK_CONNS_PACED; }
    in_cg "$CLIENT" taskset -c "$CLIENT_CPU" wrk -t1 -c "$conns" -d "${secs}s" --latency \
      -s "$HERE/interference-wrk.lua" "http://127.0.0.1:$PORT/" -- "$rate" "$conns" >"$f.raw" 2>&1 &
    PID_CLIENT=$!
    wait "$PID_CLIENT" || true
    PID_CLIENT=""
    python3 - "$f.raw" >"$f" <<'PY' || { tail -5 "$f.raw" >&2; echo fail >"$f"; }
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"COLO_WRK (.*)", t)
if not m:
    sys.exit("wrk gave no result:\n" + t)
kv = dict(x.split("=") for x in m.group(1).split())
rps = int(kv["requests"]) / (int(kv["duration_us"]) / 1e6)
print(f"{rps:.1f} {kv['p50_us']} {kv['p99_us']} {kv['requests']} {kv['errors']}")
PY
  else
    local clients=$REDIS_CLIENTS_SAT n=$REDIS_N
    [[ $SHAPE == paced ]] && clients=$REDIS_PACED_CLIENTS
    ((n > 0)) || n=$((secs * 20000))
    # bounded: a starved server must not stretch an arm past 4x its duration
    in_cg "$CLIENT" timeout $((secs * 4 + 10)) taskset -c "$CLIENT_CPU" redis-benchmark \
      -h 127.0.0.1 -p "$PORT" -c "$clients" -n "$n" -r 100000 -t get --csv >"$f.raw" 2>&1 &
    PID_CLIENT=$!
    wait "$PID_CLIENT" || true
    PID_CLIENT=""
    python3 - "$f.raw" "$n" >"$f" <<'PY' || { tail -5 "$f.raw" >&2; echo fail >"$f"; }
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r]
hdr = next((r for r in rows if r[0] == "test"), None)
row = next((r for r in rows if r[0] == "GET"), None)
if not hdr or not row:
    sys.exit("redis-benchmark gave no result (timed out?):\n" + open(sys.argv[1]).read()[-500:])
d = dict(zip(hdr, row))
print(f"{float(d['rps']):.1f} {float(d['p50_latency_ms']) * 1000:.0f} "
      f"{float(d['p99_latency_ms']) * 1000:.0f} {sys.argv[2]} 0")
PY
  fi
}

# ---------------------------------------------------------------------------------------------
# colod
start_colod() { # start_colod [EXTRA-YAML-FILE]: the file replaces --colod-config's
  local cfg=$TMP/colod.yaml extra_yaml=${1:-$COLOD_EXTRA}
  cat >"$cfg" <<EOF
node_name: bench
cgroup_root: /$NAME/kubepods
tick_ms: $COLOD_TICK_MS
api_socket: $TMP/colod.sock
pin_dir: $PIN_DIR
log_level: info
EOF
  if [[ $COLOD_HAS_POLICY == 1 ]]; then
    echo "state_dir: $TMP/colod-state" >>"$cfg"
    if [[ -n $extra_yaml ]]; then cat "$extra_yaml" >>"$cfg"; else echo "policy: {}" >>"$cfg"; fi
  fi
  local extra=()
  [[ $COLOD_HAS_POLICY == 1 ]] && extra+=(--feature_probe_cgroup "$NAME-probe")
  "$COLOD" --config "$cfg" "${extra[@]}" >>"$TMP/colod.log" 2>&1 &
  PID_COLOD=$!
  for _ in $(seq 300); do
    [[ -S $TMP/colod.sock ]] && break
    kill -0 "$PID_COLOD" 2>/dev/null || die "colod exited: $(tail -5 "$TMP/colod.log")"
    sleep 0.05
  done
  [[ -S $TMP/colod.sock ]] || die "colod did not open its API socket in 15 s: $(tail -5 "$TMP/colod.log")"
}
stop_colod() {
  stop_pid "$PID_COLOD" TERM
  PID_COLOD=""
}
api_get() { # api_get PATH FILE: GET over the unix socket (python: curl may be absent)
  python3 - "$TMP/colod.sock" "$1" >"$2" 2>/dev/null <<'PY' || true
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(sys.argv[1])
s.sendall(f"GET {sys.argv[2]} HTTP/1.0\r\nHost: colod\r\n\r\n".encode())
b = b""
while True:
    c = s.recv(65536)
    if not c: break
    b += c
print(b.split(b"\r\n\r\n", 1)[-1].decode(errors="replace"))
PY
}

# ---------------------------------------------------------------------------------------------
# one arm
# be_slice: the EEVDF slices (ns) of the BE container's tasks, distinct values ("-" without
# /proc/<pid>/sched's se.slice).
be_slice() {
  local f=$CPU_MNT/$NAME/$BE_CTR/tasks
  ((CGV == 2)) && f=$CPU_MNT/$NAME/$BE_CTR/cgroup.threads
  local t v out=()
  while read -r t; do
    v=$(awk '$1 == "se.slice" {print $3}' "/proc/$t/sched" 2>/dev/null) || true
    [[ -n $v && " ${out[*]-} " != *" $v "* ]] && out+=("$v")
  done <"$f"
  local IFS=,
  echo "${out[*]:--}"
}
total_cpu_ns() { awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { s = 0; for (i = 2; i <= 9; i++) s += $i; printf "%.0f\n", s * 1e9 / hz }' /proc/stat; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }

run_arm() { # run_arm ARM REP
  local arm=$1 rep=$2 tag=$LS_KIND.$SHAPE.$1.$2
  local has_ls=1 has_be=1
  [[ $arm == be-alone ]] && has_ls=0
  [[ $arm == ls-alone ]] && has_be=0
  set_arm "$arm"
  local enforced="" colod_state=""
  if [[ $arm == colod-budget ]]; then
    printf 'policy:\n  be_cpu: {mode: budget}\n' >"$TMP/colod-budget.yaml"
    start_colod "$TMP/colod-budget.yaml"
    sleep "$(awk -v t="$COLOD_TICK_MS" 'BEGIN {print 2 * t / 1000}')"
  elif [[ $arm == colod-slice ]]; then
    printf 'policy:\n  be_cpu: {task_slice_us: 100000}\n' >"$TMP/colod-slice.yaml"
    start_colod "$TMP/colod-slice.yaml"
    sleep "$(awk -v t="$COLOD_TICK_MS" 'BEGIN {print 2 * t / 1000}')"
  elif [[ $arm == colod ]]; then
    start_colod
    sleep "$(awk -v t="$COLOD_TICK_MS" 'BEGIN {print 2 * t / 1000}')" # two ticks: containers found, first plan
  fi
  if ((has_be)); then
    local stream=()  # stress-ng reads --stream 0 as one per CPU: 0 here means none
    ((BE_STREAM > 0)) && stream=(--stream "$BE_STREAM" --stream-l3-size 8M)
    in_cg "$BE_CTR" stress-ng --cpu "$BE_CPU" --cpu-method matrixprod "${stream[@]}" \
      -t $((DURATION * 6 + 60)) --metrics-brief --yaml "$TMP/$tag.be.yaml" >"$TMP/$tag.be.log" 2>&1 &
    PID_BE=$!
    sleep "$WARMUP_S"
  fi
  local load0 t0 ls0 be0 cl0 tot0 t1 ls1 be1 cl1 tot1
  load0=$(loadavg)
  t0=$(date +%s%N) ls0=$(cg_cpu_ns "$LS_CTR") be0=$(cg_cpu_ns "$BE_CTR") cl0=$(cg_cpu_ns "$CLIENT") tot0=$(total_cpu_ns)
  if ((has_ls)); then run_client "$TMP/$tag.ls" "$DURATION"; else sleep "$DURATION"; fi
  t1=$(date +%s%N) ls1=$(cg_cpu_ns "$LS_CTR") be1=$(cg_cpu_ns "$BE_CTR") cl1=$(cg_cpu_ns "$CLIENT") tot1=$(total_cpu_ns)
  if [[ $arm == colod* ]]; then
    # evidence of enforcement, read while colod still runs
    enforced="be_pod_cpu_idle=$(readknob "$BE_POD" cpu.idle) be_ctr_cpus=$(readknob "$BE_CTR" cpuset.cpus) be_slice_ns=$(be_slice)"
    api_get /v1/controllers "$OUT/$tag.colod-controllers.json"
    api_get /v1/containers "$OUT/$tag.colod-containers.json"
    colod_state=$OUT/$tag.colod-controllers.json
  fi
  if ((has_be)); then
    stop_pid "$PID_BE" INT
    PID_BE=""
  fi
  [[ $arm == colod* ]] && stop_colod
  python3 - "$OUT/results.jsonl" <<PY
import json, re, sys, os
rec = dict(ls="$LS_KIND", shape="$SHAPE", arm="$arm", rep=$rep, duration_s=$DURATION,
           wall_s=($t1 - $t0) / 1e9, ncpu=$NCPU, cgroup_version=$CGV,
           ls_cpu_s=($ls1 - $ls0) / 1e9, be_cpu_s=($be1 - $be0) / 1e9,
           client_cpu_s=($cl1 - $cl0) / 1e9, node_busy_cpu_s=($tot1 - $tot0) / 1e9,
           load1_start=$load0, load1_end=float(open("/proc/loadavg").read().split()[0]),
           pace_rate="$RATE", colod_enforcement="$enforced", colod_state="$colod_state")
ls_result = open("$TMP/$tag.ls").read().split() if $has_ls else []
if ls_result == ["fail"]:
    rec["client_failed"] = True
elif $has_ls:
    rps, p50, p99, n, err = ls_result
    rec.update(rps=float(rps), p50_us=float(p50), p99_us=float(p99), requests=int(n), errors=int(err))
if $has_be:
    y = open("$TMP/$tag.be.yaml").read() if os.path.exists("$TMP/$tag.be.yaml") else ""
    for m in re.finditer(r"- stressor: (\S+)\n((?:\s+[\w-]+: .*\n)+)", y):
        kv = dict(re.findall(r"([\w-]+): (\S+)", m.group(2)))
        rec[f"be_{m.group(1)}_bogo_ops"] = float(kv["bogo-ops"])
        rec[f"be_{m.group(1)}_bogo_per_s"] = float(kv["bogo-ops-per-second-real-time"])
    if "be_cpu_bogo_per_s" not in rec:
        sys.exit("no stress-ng metrics in $TMP/$tag.be.yaml: " + open("$TMP/$tag.be.log").read()[-400:])
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(rec) + "\n")
PY
  local line
  line=$(tail -1 "$OUT/results.jsonl" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(" ".join(f"{k}={r[k]:.4g}" if isinstance(r[k], float) else f"{k}={r[k]}" for k in ("rps","p50_us","p99_us","be_cpu_bogo_per_s","be_stream_bogo_per_s","ls_cpu_s","be_cpu_s","load1_start") if k in r))')
  echo "  rep $rep $arm: $line${enforced:+ [$enforced]}" >&2
}

# calibrate: LS alone flat out (for paced nginx: PACE_FRACTION of that rate; flat out, the server
# and its client fill the machine, so half the rate keeps them near half of it)
calibrate() {
  local secs=3 f=$TMP/calib rps ls0 ls1 t0 t1
  set_arm ls-alone
  if [[ $LS_KIND == redis ]]; then REDIS_N=$((secs * 20000)); fi
  local shape_saved=$SHAPE rate_saved=$RATE
  [[ $LS_KIND == nginx ]] && { SHAPE=saturating; RATE=""; }
  ls0=$(cg_cpu_ns "$LS_CTR") t0=$(date +%s%N)
  run_client "$f" "$secs"
  ls1=$(cg_cpu_ns "$LS_CTR") t1=$(date +%s%N)
  SHAPE=$shape_saved RATE=$rate_saved
  rps=$(cut -d' ' -f1 "$f")
  local cores
  cores=$(awk -v a="$ls0" -v b="$ls1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}')
  if [[ $LS_KIND == redis ]]; then
    REDIS_N=$(awk -v r="$rps" -v d="$DURATION" 'BEGIN {printf "%d", r * d}')
    echo "bench-interference: calibration: redis-benchmark ($SHAPE) ${rps} req/s alone, LS ${cores} cores -> -n $REDIS_N for ~${DURATION}s" >&2
  elif [[ $SHAPE == paced ]]; then
    if [[ -z $RATE ]]; then
      RATE=$(awk -v r="$rps" -v f="$PACE_FRACTION" 'BEGIN {printf "%d", r * f}')
    fi
    echo "bench-interference: calibration: nginx flat out ${rps} req/s using ${cores} cores -> paced at $RATE req/s ($PACE_FRACTION of it)" >&2
  else
    echo "bench-interference: calibration: nginx flat out ${rps} req/s using ${cores} cores" >&2
  fi
}

COLOD_HAS_POLICY=0
# (not `colod --helpfull | grep -q`: with pipefail, grep quitting early fails the pipeline)
if [[ -x $COLOD ]] && [[ $("$COLOD" --helpfull 2>&1 || true) == *-enforce* ]]; then COLOD_HAS_POLICY=1; fi

run_combo() { # run_combo LS SHAPE
  LS_KIND=$1 SHAPE=$2
  local rate_arg=$RATE
  echo "bench-interference: === $LS_KIND, $SHAPE: ${#ARMS[@]} arms x $REPS reps x ${DURATION}s ===" >&2
  start_ls
  calibrate
  for rep in $(seq "$REPS"); do
    for arm in $(printf '%s\n' "${ARMS[@]}" | shuf); do run_arm "$arm" "$rep"; done
  done
  stop_ls
  RATE=$rate_arg
}

setup_tree
: >"$OUT/results.jsonl"
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
START_T=$(date +%s)
if ((ALL)); then
  for ls in nginx redis; do for shape in saturating paced; do run_combo "$ls" "$shape"; done; done
else
  run_combo "$LS_KIND" "$SHAPE"
fi
{
  echo "Interference benchmark, $(date -u +%Y-%m-%dT%H:%MZ): kernel $(uname -r), $NCPU CPUs, cgroup v$CGV;"
  echo "$REPS rep(s) x ${DURATION}s per arm, arms interleaved in random order; BE = stress-ng --cpu $BE_CPU (matrixprod)$( ((BE_STREAM > 0)) && echo " + --stream $BE_STREAM" || echo ", no memory stressor");"
  if ((CLIENT_IN_LS)); then echo "client pinned to CPU $CLIENT_CPU as an LS pod ($CLIENT); colod tick ${COLOD_TICK_MS} ms,"; else
    echo "client pinned to CPU $CLIENT_CPU in its own cgroup outside kubepods; colod tick ${COLOD_TICK_MS} ms,"; fi
  if ((COLOD_HAS_POLICY)); then echo "colod with its policy engine and enforcement (policy: defaults);"; else
    echo "colod WITHOUT enforcement (this colod build has no policy engine: the colod arm is the k8s arm plus an observing colod);"; fi
  echo "load average at start: $START_LOAD, at end: $(cut -d' ' -f1-3 /proc/loadavg); took $(($(date +%s) - START_T)) s."
  echo
} | tee "$OUT/summary.md"
python3 "$HERE/interference_report.py" "$OUT" | tee -a "$OUT/summary.md"
echo "bench-interference: results in $OUT (results.jsonl, summary.csv, summary.json, summary.md)" >&2
