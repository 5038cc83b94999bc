#!/usr/bin/env bash
# colo demo: on this machine, an LS service (nginx driven by wrk, or redis driven by
# redis-benchmark) next to BE batch work (stress-ng), in a kubelet-shaped cgroup tree of its own,
# with and without colod. The LS load is a fraction of LS's own flat-out rate, measured first
# (a 3 s flat-out run), so the story shows whatever the machine's speed. About two minutes, five
# phases after that calibration:
#   1 baseline   LS alone at the base load
#   2 be         BE arrives (stress-ng CPU + memory stressors), no colod: LS latency suffers
#   3 colod      colod starts with its default policy: BE keeps running, LS back to its baseline
#   4 ls-burst   LS steps up to the burst load, over colod's safety watermark: colod squeezes BE
#   5 calm       LS back to the base load: colod gives BE its CPUs back
# A live view shows each second; at the end a table per phase, CSV and PNG charts under
# demo-out/<UTC timestamp>/ (kept; see docs/operations.md "The demo").
#
#   sudo scripts/demo.sh [--duration SECONDS] [--ls nginx|redis] [--no-colod] [--keep]
#                        [--base-fraction F] [--burst-fraction F]
#                        [--be-qos burstable|besteffort] [--out DIR] [--skip-build] [--slo-ms MS]
#
# --duration  total seconds, split evenly over the five phases (default 120, at least 25)
# --base-fraction   LS load in phases 1, 2, 3 and 5 as a fraction of the flat-out rate (0.3)
# --burst-fraction  LS load in phase 4 (0.8: with the load generator, which sits in the LS pod,
#             LS then uses more than colod's safety watermark, 65 % of the node)
# --no-colod  phase 3 onwards without colod: the control run
# --be-qos    kubelet QoS class of the BE pod (default burstable: a batch pod with CPU requests,
#             labelled BE, weighs as much as LS; besteffort: kubelet's cpu.shares=2)
# --keep      also keep the work dir (nginx/redis/colod configs and logs, colod's journal and
#             pinned maps) for inspection; cgroups and processes are always removed
# --skip-build  use an existing build (BUILD_DIR, default build) instead of install + build
# Env: BUILD_DIR (build; relative to the repository or absolute).
# Ctrl-C at any point stops every process, removes the cgroups, the pinned maps and the socket.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

DURATION=120 LS=nginx BE_QOS=burstable COLOD=1 KEEP=0 BUILD=1 OUT="" SLO_MS=""
BASE_FRACTION=0.3 BURST_FRACTION=0.8
usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    --duration) DURATION=$2; shift ;;
    --duration=*) DURATION=${1#*=} ;;
    --ls) LS=$2; shift ;;
    --ls=*) LS=${1#*=} ;;
    --be-qos) BE_QOS=$2; shift ;;
    --be-qos=*) BE_QOS=${1#*=} ;;
    --no-colod) COLOD=0 ;;
    --keep) KEEP=1 ;;
    --skip-build) BUILD=0 ;;
    --out) OUT=$2; shift ;;
    --out=*) OUT=${1#*=} ;;
    --slo-ms) SLO_MS=$2; shift ;;
    --slo-ms=*) SLO_MS=${1#*=} ;;
    --base-fraction) BASE_FRACTION=$2; shift ;;
    --base-fraction=*) BASE_FRACTION=${1#*=} ;;
    --burst-fraction) BURST_FRACTION=$2; shift ;;
    --burst-fraction=*) BURST_FRACTION=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "demo: unknown option $1" >&2; usage >&2; exit 1 ;;
  esac
  shift
done
die() { echo "demo: $*" >&2; exit 1; }
[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 25)) || die "--duration must be a whole number of seconds >= 25"
[[ $LS == nginx || $LS == redis ]] || die "--ls must be nginx or redis"
[[ $BE_QOS == burstable || $BE_QOS == besteffort ]] || die "--be-qos must be burstable or besteffort"
for f in "$BASE_FRACTION" "$BURST_FRACTION"; do
  [[ $f =~ ^(0?\.[0-9]+|1(\.0*)?)$ ]] && [[ ! $f =~ ^0?\.0*$ ]] ||
    die "--base-fraction and --burst-fraction must be numbers in (0, 1], got $f"
done
[[ $(id -u) -eq 0 ]] || die "run as root (it loads BPF programs and creates cgroups): sudo $0"
[[ -r /sys/kernel/btf/vmlinux ]] || die "no BTF at /sys/kernel/btf/vmlinux: colod needs a kernel built with CONFIG_DEBUG_INFO_BTF=y"

BUILD_DIR=${BUILD_DIR:-build}
if ((BUILD)); then
  scripts/install-deps.sh
  echo "demo: building colod and coloctl into $BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target colod coloctl
fi
COLOD_BIN=$REPO/$BUILD_DIR/userspace/agent/colod
COLOCTL_BIN=$REPO/$BUILD_DIR/userspace/cli/coloctl
[[ $BUILD_DIR == /* ]] && COLOD_BIN=$BUILD_DIR/userspace/agent/colod COLOCTL_BIN=$BUILD_DIR/userspace/cli/coloctl
for b in "$COLOD_BIN" "$COLOCTL_BIN"; do [[ -x $b ]] || die "$b missing: run without --skip-build"; done
for p in stress-ng python3 curl gnuplot; do command -v $p >/dev/null || die "$p missing: scripts/install-deps.sh"; done
if [[ $LS == nginx ]]; then
  for p in nginx wrk; do command -v $p >/dev/null || die "$p missing: scripts/install-deps.sh"; done
else
  for p in redis-server redis-benchmark; do command -v $p >/dev/null || die "$p missing: scripts/install-deps.sh"; done
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || die "bpffs is not mounted at /sys/fs/bpf and mounting it failed"

NAME=colo-test-demo-$$
OUT=${OUT:-demo-out/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "/tmp/colo-demo.XXXXXX")
PIN_DIR=/sys/fs/bpf/$NAME
SOCK=$WORK/colod.sock

# --- cgroup hierarchies ---------------------------------------------------------------------
# v1: every mount carrying cpu, cpuacct, cpuset or memory (cpu and cpuacct may share one);
# v2: the cgroup2 mount when it carries the cpu controller.
declare -a HIERS=()
CGV=1
while read -r mnt opts; do
  case ",$opts," in *,cpu,* | *,cpuacct,* | *,cpuset,* | *,memory,*) HIERS+=("$mnt") ;; esac
done < <(awk '$9 == "cgroup" {print $5, $NF}' /proc/self/mountinfo | sort -u)
V1_CPU=$(awk '$9 == "cgroup" && $NF ~ /(^|,)cpu(,|$)/ {print $5; exit}' /proc/self/mountinfo)
if [[ -z $V1_CPU ]]; then
  CGV=2
  V2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
  [[ -n $V2 ]] && grep -qw cpu "$V2/cgroup.controllers" ||
    die "no cgroup hierarchy carries the cpu controller (mount cgroup v2 at /sys/fs/cgroup, or the v1 cpu controller)"
  HIERS=("$V2")
  for c in cpu cpuset memory; do
    grep -qw $c "$V2/cgroup.subtree_control" || echo "+$c" >"$V2/cgroup.subtree_control" ||
      die "cannot enable the $c controller at $V2 (is it bound to a v1 hierarchy?)"
  done
fi

uuid() { cat /proc/sys/kernel/random/uuid; }
hexid() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
LS_POD=pod$(uuid) BE_POD=pod$(uuid)
LS_CTR=$(hexid) LG_CTR=$(hexid) BE_CTR=$(hexid)
KP=/$NAME/kubepods
DIRS=("/$NAME" "/$NAME/system" "$KP" "$KP/burstable" "$KP/burstable/$LS_POD" "$KP/burstable/$LS_POD/$LS_CTR"
  "$KP/burstable/$LS_POD/$LG_CTR")
[[ $BE_QOS == besteffort ]] && DIRS+=("$KP/besteffort")
BE_POD_DIR=$KP/$BE_QOS/$BE_POD
DIRS+=("$BE_POD_DIR" "$BE_POD_DIR/$BE_CTR")

PIDS=()
PY_PID=""
cleaned=0
cleanup() {
  local rc=$?
  set +e  # clean up as much as possible, whatever fails
  ((cleaned)) && return
  cleaned=1
  trap '' INT TERM
  if [[ -n $PY_PID ]]; then kill -KILL "$PY_PID" 2>/dev/null || true; { wait "$PY_PID"; } 2>/dev/null || true; fi
  [[ -t 1 ]] && printf '\e[?25h\n'
  if [[ -f $WORK/colod.pid ]]; then
    local cp
    cp=$(cat "$WORK/colod.pid")
    # SIGTERM: colod restores every cgroup knob it changed before it exits.
    kill -TERM "$cp" 2>/dev/null && for _ in $(seq 100); do kill -0 "$cp" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$cp" 2>/dev/null || true
  fi
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; { wait "$p"; } 2>/dev/null || true; done
  local h i d
  for ((i = ${#DIRS[@]} - 1; i >= 0; i--)); do
    for h in "${HIERS[@]}"; do
      d=$h${DIRS[i]}
      [[ -d $d ]] || continue
      for _ in $(seq 50); do
        while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$d/cgroup.procs"
        rmdir "$d" 2>/dev/null && break
        sleep 0.1
      done
      [[ -d $d ]] && echo "demo: could not remove $d" >&2
    done
  done
  wait 2>/dev/null || true
  if ((KEEP)); then
    echo "demo: kept the work dir $WORK and the pinned maps $PIN_DIR (rm -rf both when done)"
  else
    rm -rf "$PIN_DIR" "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# kubelet's cpu.shares -> cpu.weight conversion (v2).
weight() { echo $((1 + (($1 - 2) * 9999) / 262142)); }
set_shares() {  # $1 dir (relative), $2 shares
  if ((CGV == 1)); then echo "$2" >"$V1_CPU$1/cpu.shares"; else weight "$2" >"${HIERS[0]}$1/cpu.weight"; fi
}
for d in "${DIRS[@]}"; do
  for h in "${HIERS[@]}"; do
    mkdir "$h$d"
    # v1 cpusets start empty: inherit the parent's CPUs and memory nodes.
    if [[ -f $h$d/cpuset.cpus ]] && ((CGV == 1)); then
      cat "$(dirname "$h$d")/cpuset.cpus" >"$h$d/cpuset.cpus"
      cat "$(dirname "$h$d")/cpuset.mems" >"$h$d/cpuset.mems"
    fi
  done
  # v2: controllers for the children of every inner directory (processes live in leaves only).
  if ((CGV == 2)) && [[ $d != */$LS_CTR && $d != */$LG_CTR && $d != */$BE_CTR && $d != */system ]]; then
    echo "+cpu +cpuset +memory" >"${HIERS[0]}$d/cgroup.subtree_control"
  fi
done
# What kubelet writes: kubepods = allocatable, burstable = sum of its pods' requests (the LS pod
# requests 1 CPU: 0.5 for the service, 0.5 for its load generator; a burstable BE pod 1 CPU),
# besteffort = 2.
NCPU=$(nproc)
# The demo's top directory gets the maximum weight, so whatever else runs on this machine weighs
# little against the LS/BE pair: the comparison happens inside the tree, between LS and BE.
set_shares "/$NAME" 262144
set_shares "$KP" $((NCPU * 1024))
# The demo's sampler and colod run in /$NAME/system, as system daemons sit beside kubepods.
set_shares "/$NAME/system" 1024
if [[ $BE_QOS == burstable ]]; then set_shares "$KP/burstable" 2048; else set_shares "$KP/burstable" 1024; fi
set_shares "$KP/burstable/$LS_POD" 1024
set_shares "$KP/burstable/$LS_POD/$LS_CTR" 512
set_shares "$KP/burstable/$LS_POD/$LG_CTR" 512
if [[ $BE_QOS == besteffort ]]; then
  set_shares "$KP/besteffort" 2
  set_shares "$BE_POD_DIR" 2
  set_shares "$BE_POD_DIR/$BE_CTR" 2
else
  set_shares "$BE_POD_DIR" 1024
  set_shares "$BE_POD_DIR/$BE_CTR" 1024
fi

# run_in DIR CMD...: starts CMD inside the cgroup DIR of every hierarchy, in the background.
run_in() {
  local dir=$1
  shift
  local procs=()
  for h in "${HIERS[@]}"; do procs+=("$h$dir/cgroup.procs"); done
  (for f in "${procs[@]}"; do echo $BASHPID >"$f"; done; exec "$@") &
  PIDS+=($!)
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [[ $LS == nginx ]]; then
  mkdir -p "$WORK/www" "$WORK/nginx-tmp"
  head -c 4096 /dev/urandom | base64 >"$WORK/www/index.html"
  cat >"$WORK/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $NCPU;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-tmp/body;
  proxy_temp_path $WORK/nginx-tmp/proxy;
  fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
  scgi_temp_path $WORK/nginx-tmp/scgi;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT; root $WORK/www; location / { } }
}
EOF
  run_in "$KP/burstable/$LS_POD/$LS_CTR" nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/nginx-error.log"
else
  run_in "$KP/burstable/$LS_POD/$LS_CTR" redis-server --bind 127.0.0.1 --port "$PORT" --save '' \
    --appendonly no --dir "$WORK" --daemonize no --logfile "$WORK/redis.log"
fi
for _ in $(seq 100); do
  (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
(echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "$LS did not start on 127.0.0.1:$PORT (see $WORK)"

# colod: default policy (an empty policy: section turns the engine and enforcement on).
cat >"$WORK/colod.yaml" <<EOF
cgroup_root: $KP
api_socket: $SOCK
pin_dir: $PIN_DIR
policy: {}
EOF
if [[ $BE_QOS == burstable ]]; then
  # A batch pod with CPU requests lands in kubelet's burstable class; in a cluster its label
  # colo.io/qos=BE makes it BE. Here a tier rule on its cgroup path stands in for the label.
  printf 'tier_rules:\n  - {match: "%s/*", tier: BE}\n' "$BE_POD_DIR" >>"$WORK/colod.yaml"
fi

MEM_KB=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
VM_MB=$((MEM_KB / 1024 / 20))
((VM_MB > 512)) && VM_MB=512
cat >"$WORK/demo.json" <<EOF
{"duration": $DURATION, "ls": "$LS", "colod": $COLOD, "port": $PORT, "ncpu": $NCPU,
 "cgroup_version": $CGV, "hierarchies": $(printf '%s\n' "${HIERS[@]}" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))'),
 "v1_cpu": "$V1_CPU", "system": "/$NAME/system", "ls_ctr": "$KP/burstable/$LS_POD/$LS_CTR", "lg_ctr": "$KP/burstable/$LS_POD/$LG_CTR",
 "ls_pod": "$KP/burstable/$LS_POD", "be_pod": "$BE_POD_DIR", "be_ctr": "$BE_POD_DIR/$BE_CTR", "be_qos": "$BE_QOS",
 "work": "$WORK", "out": "$OUT", "colod_bin": "$COLOD_BIN", "coloctl_bin": "$COLOCTL_BIN",
 "colod_config": "$WORK/colod.yaml", "socket": "$SOCK", "pin_dir": "$PIN_DIR", "state_dir": "$WORK/state",
 "vm_mb": $VM_MB, "slo_ms": "${SLO_MS}", "base_fraction": "$BASE_FRACTION", "burst_fraction": "$BURST_FRACTION"}
EOF
echo "demo: $LS on 127.0.0.1:$PORT in /$NAME (cgroup v$CGV), ${DURATION}s, colod $( ((COLOD)) && echo on || echo off), output $OUT"
# In the background and waited for, so a signal to this script runs the cleanup at once.
python3 "$REPO/scripts/demo/run.py" "$WORK/demo.json" &
PY_PID=$!
wait "$PY_PID"
