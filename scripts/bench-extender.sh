#!/usr/bin/env bash
# Benchmarks colo-extender: in-process (parse + filter + score) and over HTTP with keep-alive on
# loopback at 1, 2 and 8 connections, with colo-loadgen (a separate program) as the client; then a
# sustained run checking errors and the extender's RSS at start and end.
# Usage: scripts/bench-extender.sh [build-dir]   (build with -O2: RelWithDebInfo, the default)
# Env: DURATION (s per HTTP point, default 10), SUSTAIN (s, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/userspace/extender
DURATION=${DURATION:-10}
SUSTAIN=${SUSTAIN:-60}
for b in colo-extender colo-extender-bench colo-loadgen; do
  [[ -x $BIN/$b ]] || { echo "bench-extender: $BIN/$b missing; build it: cmake --build $BUILD --target $b" >&2; exit 1; }
done
work=$(mktemp -d /tmp/colo-bench-extender.XXXXXX)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "## in-process: $BIN/colo-extender-bench"
"$BIN/colo-extender-bench"

"$BIN/colo-loadgen" --make=names:5000 --out="$work/names.json" >/dev/null
"$BIN/colo-loadgen" --make=nodes:500 --out="$work/nodes.json" >/dev/null
"$BIN/colo-loadgen" --make=nodelist:5000 --out="$work/nodelist.json" >/dev/null
printf 'maxMetricsAgeSeconds: 86400\n' >"$work/config.yaml"

start_extender() {  # $1: extra flags
  "$BIN/colo-extender" --listen=127.0.0.1:$PORT --unix_socket="$work/ext.sock" --threads=2 \
    --config="$work/config.yaml" --log_level=warn $1 &
  pid=$!
  for _ in $(seq 200); do [[ -S $work/ext.sock ]] && return; sleep 0.05; done
  echo "bench-extender: extender did not start" >&2; exit 1
}
stop_extender() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; rm -f "$work/ext.sock"; }

# The load goes to TCP 127.0.0.1:$PORT; the unix socket only tells that the extender is up.
PORT=${PORT:-18888}
run_points() {  # $1 label, $2 body, $3 verb
  for c in 1 2 8; do
    echo -n "$1 verb=$3 "
    "$BIN/colo-loadgen" --target=127.0.0.1:$PORT --path=/colo/$3 --body="$2" --connections=$c \
      --duration_s="$DURATION" --warmup_s=1 --server_pid="$pid"
  done
}

echo "## HTTP keep-alive on loopback: 5,000 NodeNames (nodeCacheCapable: true, cache from a file)"
start_extender "--nodes_file=$work/nodelist.json"
run_points names5000 "$work/names.json" filter
run_points names5000 "$work/names.json" prioritize
echo "## sustained ${SUSTAIN}s, 2 connections, 5,000 names, filter (errors and RSS)"
"$BIN/colo-loadgen" --target=127.0.0.1:$PORT --path=/colo/filter --body="$work/names.json" \
  --connections=2 --duration_s="$SUSTAIN" --warmup_s=1 --server_pid="$pid"
stop_extender

echo "## HTTP keep-alive on loopback: 500 full Node objects (nodeCacheCapable: false)"
start_extender ""
run_points nodes500 "$work/nodes.json" filter
run_points nodes500 "$work/nodes.json" prioritize
stop_extender
