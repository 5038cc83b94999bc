#!/usr/bin/env bash
# colo-extender request parallelism on a machine with 11 or more CPUs: parallelism 1 vs 4,
# in-process and over HTTP (keep-alive, one worker, one connection, as docs/BENCHMARKS.md).
# Server pinned to CPUs 2-7 (worker + up to 3 helpers), loadgen on CPU 10. Rounds alternate.
#   scripts/bench-extender-parallel.sh        # binaries from build/userspace/extender
#   X=/dir/with/the/three/binaries scripts/bench-extender-parallel.sh
set -euo pipefail
X=$(cd "${X:-$(dirname "$0")/../build/userspace/extender}" && pwd)
for b in colo-extender colo-extender-bench colo-loadgen; do
  [[ -x $X/$b ]] || { echo "bench-extender-parallel: $X/$b missing; build it: cmake --build build --target $b" >&2; exit 1; }
done
(($(nproc) >= 11)) || { echo "bench-extender-parallel: needs 11 CPUs (server on 2-7, loadgen on 10); this machine has $(nproc)" >&2; exit 1; }
W=$(mktemp -d /tmp/ext-par.XXXXXX); cd "$W"
echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$X/colo-loadgen" --make=names:5000 --out=names.json >/dev/null
"$X/colo-loadgen" --make=nodelist:5000 --out=nodelist.json >/dev/null
printf 'maxMetricsAgeSeconds: 86400\n' >config.yaml

echo "## in-process (colo-extender-bench names N K [be]), CPUs 2-7"
for round in 1 2; do
  for p in 1 4; do
    for k in "0" "10 be"; do
      echo -n "round=$round p=$p K=$k: "
      COLO_BENCH_PARALLELISM=$p taskset -c 2-7 "$X/colo-extender-bench" names 2000 $k | tail -1
    done
  done
done

echo "## HTTP keep-alive, one worker, 1 connection, server CPUs 2-7, loadgen CPU 10"
port=18950
http_run() {  # $1 parallelism
  port=$((port + 1)); rm -f ext.sock
  taskset -c 2-7 "$X/colo-extender" --listen=127.0.0.1:$port --unix_socket=ext.sock --threads=1 \
    --config=config.yaml --log_level=warn --nodes_file=nodelist.json --request_parallelism=$1 &
  local pid=$!
  for _ in $(seq 200); do [[ -S ext.sock ]] && break; sleep 0.05; done
  for verb in filter prioritize filter prioritize; do
    echo -n "p=$1 $verb: "
    taskset -c 10 "$X/colo-loadgen" --target=127.0.0.1:$port --path=/colo/$verb --body=names.json \
      --connections=1 --duration_s=6 --warmup_s=1 --server_pid=$pid 2>&1 | tail -1
  done
  kill $pid; wait $pid 2>/dev/null || true
}
for round in 1 2; do
  http_run 1
  http_run 4
done
uptime
rm -rf "$W"
