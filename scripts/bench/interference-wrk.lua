-- wrk script for scripts/bench-interference.sh.
-- Arguments (after `--`): RATE CONNECTIONS. RATE 0 = flat out (saturating shape); RATE > 0 paces
-- every connection with delay() so that all together send about RATE requests per second (paced
-- shape; each connection waits CONNECTIONS/RATE seconds between requests, with +/-50 % uniform
-- jitter so the connections do not march in lockstep).
-- done() prints one machine-readable line: "COLO_WRK requests=<n> duration_us=<t> errors=<e>
-- p50_us=<..> p90_us=<..> p99_us=<..> p999_us=<..> max_us=<..>".
local rate = 0
local gap_ms = 0

function init(args)
  rate = tonumber(args[1] or "0") or 0
  local conns = tonumber(args[2] or "1") or 1
  if rate > 0 then
    gap_ms = conns * 1000.0 / rate
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function delay()
  if gap_ms <= 0 then
    return 0
  end
  -- wrk truncates the delay to whole milliseconds: +0.5 makes that a rounding.
  return gap_ms * (0.5 + math.random()) + 0.5
end

function done(summary, latency, requests)
  local e = summary.errors
  local errs = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format(
    "COLO_WRK requests=%d duration_us=%d errors=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    summary.requests, summary.duration, errs, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
