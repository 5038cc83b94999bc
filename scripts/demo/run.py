#!/usr/bin/env python3
"""The demo's scenario, sampler, live view, summary table, CSV and charts.

Run by scripts/demo.sh, which builds the cgroup tree, starts the LS service and owns the
cleanup (every process in the tree, colod, the cgroups, the pinned maps). This script starts
the load generator, stress-ng and colod inside that tree, samples once per second and writes
samples.csv, phases.csv, summary.md, latency.png, cpu.png and overview.png into the output dir.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

CFG = json.load(open(sys.argv[1]))
OUT = CFG["out"]
WORK = CFG["work"]
NCPU = CFG["ncpu"]
HIERS = CFG["hierarchies"]
V2 = CFG["cgroup_version"] == 2
TTY = sys.stdout.isatty()

# Load: a fraction of LS's flat-out rate, measured by calibrate() before the phases start.
BASE_FRACTION = float(CFG["base_fraction"])
BURST_FRACTION = float(CFG["burst_fraction"])
K = max(1, NCPU // 2)
THREADS = min(NCPU, 4)  # wrk threads: one per CPU, so flat out is what LS can do, not one client thread
# wrk paces each connection with delay(), in whole milliseconds: 128 connections per 2 CPUs keep
# each connection's gap above 2 ms up to ~60,000 req/s, so the rounding stays small.
WRK_CONNS = 128 * K
REDIS_CLIENTS = 12 * K
CALIBRATE_S = 3
WATERMARK = 0.65  # colod's default be_cpu.safety_watermark, drawn on cpu.png
FLAT_OUT = None  # req/s, set by calibrate()

PHASES = [
    ("baseline", "LS alone"),
    ("be", "BE arrives, no colod" if CFG["colod"] else "BE arrives"),
    ("colod", "colod starts" if CFG["colod"] else "still no colod (--no-colod)"),
    ("ls-burst", "LS load %.2g of flat out" % BURST_FRACTION),
    ("calm", "LS back to %.2g" % BASE_FRACTION),
]


def phase_fraction(name):
    return BURST_FRACTION if name == "ls-burst" else BASE_FRACTION


def phase_bounds(total):
    n = len(PHASES)
    step = total // n
    bounds = [i * step for i in range(n)] + [total]
    return bounds


BOUNDS = phase_bounds(CFG["duration"])


def find_file(rel, name):
    for h in HIERS:
        p = h + rel + "/" + name
        if os.path.exists(p):
            return p
    return None


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def cpu_ns(rel):
    """Cumulative CPU time of a cgroup in ns (v1 cpuacct.usage, v2 cpu.stat usage_usec)."""
    if V2:
        for line in read(HIERS[0] + rel + "/cpu.stat").splitlines():
            k, _, v = line.partition(" ")
            if k == "usage_usec":
                return int(v) * 1000
        return 0
    p = find_file(rel, "cpuacct.usage")
    return int(read(p, "0") or 0) if p else 0


def cpus_count(s):
    n = 0
    for part in s.split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        n += int(b or a) - int(a) + 1
    return n


def be_cpuset():
    if V2:
        s = read(HIERS[0] + CFG["be_ctr"] + "/cpuset.cpus") or read(
            HIERS[0] + CFG["be_ctr"] + "/cpuset.cpus.effective")
        return s
    p = find_file(CFG["be_ctr"], "cpuset.cpus")
    return read(p) if p else ""


def be_idle():
    p = find_file(CFG["be_pod"], "cpu.idle")
    return read(p, "-") if p else "-"


def in_cgroup(rel):
    procs = [h + rel + "/cgroup.procs" for h in HIERS]

    def enter():
        for f in procs:
            with open(f, "w") as fh:
                fh.write(str(os.getpid()))
    return enter


def api(path):
    try:
        r = subprocess.run(["curl", "-s", "-m", "0.5", "--unix-socket", CFG["socket"],
                            "http://colod" + path], capture_output=True, text=True, timeout=2)
        if r.returncode != 0 or not r.stdout:
            return None
        return json.loads(r.stdout)
    except (subprocess.SubprocessError, ValueError):
        return None


WRK_LUA = os.path.join(WORK, "paced.lua")
with open(WRK_LUA, "w") as f:
    # Argument (after `--`): GAP_MS, each connection's mean wait between a response and its next
    # request (0: flat out), with +/-50 % uniform jitter so the connections do not march in step.
    f.write("""local gap = 0
function init(args)
  gap = tonumber(args[1] or "0") or 0
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function delay()
  if gap <= 0 then return 0 end
  return gap * (0.5 + math.random()) + 0.5  -- wrk truncates to whole ms: +0.5 rounds
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("DEMO %d %d %d %d %d %d\\n", latency:percentile(50), latency:percentile(99),
    latency.mean, summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout))
end
""")

last_mean_us = 0.0  # mean latency of the last wrk slice, to pace at the rate asked for


def wrk(seconds, gap_ms):
    """wrk for `seconds` at `gap_ms` per connection. Returns (p50_us, p99_us, req/s, errors)."""
    global last_mean_us
    try:
        r = subprocess.run(["wrk", "-t%d" % THREADS, "-c%d" % WRK_CONNS, "-d%ds" % seconds,
                            "-s", WRK_LUA, "http://127.0.0.1:%d/" % CFG["port"], "--",
                            "%.3f" % gap_ms], capture_output=True, text=True,
                           timeout=seconds + 10, preexec_fn=in_cgroup(CFG["lg_ctr"]))
    except subprocess.SubprocessError:
        return None
    for line in r.stdout.splitlines():
        if line.startswith("DEMO "):
            p50, p99, mean, reqs, dur_us, errs = (float(x) for x in line.split()[1:])
            last_mean_us = mean
            return p50, p99, reqs / max(dur_us, 1) * 1e6, int(errs)
    return None


def redis_benchmark(n):
    """n GETs, flat out. Returns (p50_us, p99_us, elapsed_s) or None."""
    t0 = time.monotonic()
    try:
        r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(CFG["port"]), "-c",
                            str(REDIS_CLIENTS), "-n", str(n), "-t", "get", "--csv"],
                           capture_output=True, text=True, timeout=30,
                           preexec_fn=in_cgroup(CFG["lg_ctr"]))
    except subprocess.SubprocessError:
        return None
    elapsed = time.monotonic() - t0
    for line in r.stdout.splitlines():
        if line.startswith('"GET'):
            f = [x.strip('"') for x in line.split(",")]
            return float(f[4]) * 1000, float(f[6]) * 1000, elapsed
    return None


def calibrate():
    """LS flat out, about CALIBRATE_S seconds: (req/s, LS pod cores) or (None, None)."""
    ls0, t0 = cpu_ns(CFG["ls_pod"]), time.monotonic()
    if CFG["ls"] == "nginx":
        res = wrk(CALIBRATE_S, 0)
        rate = res[2] if res else None
    else:
        # redis-benchmark has a request count, not a duration: a short run sizes the real one.
        n, res = 20000, redis_benchmark(20000)
        if res and res[2] < CALIBRATE_S / 2:
            n = int(n / res[2] * (CALIBRATE_S - res[2]))
            ls0, t0 = cpu_ns(CFG["ls_pod"]), time.monotonic()
            res = redis_benchmark(n)
        rate = n / res[2] if res else None
    cores = (cpu_ns(CFG["ls_pod"]) - ls0) / 1e9 / max(time.monotonic() - t0, 1e-3)
    return rate, cores


def load_slice(fraction):
    """One ~1 s slice of LS load at `fraction` of flat out: (p50_us, p99_us, req/s, errors)."""
    rate = fraction * FLAT_OUT
    if CFG["ls"] == "nginx":
        # A connection waits its gap after each response: subtract the response time, or the
        # rate falls short by it.
        gap_ms = WRK_CONNS * 1000.0 / rate
        gap_ms -= min(last_mean_us / 1000, gap_ms / 2)
        return wrk(1, gap_ms)
    n = max(1, int(rate))
    res = redis_benchmark(n)
    if res is None:
        return None
    p50, p99, elapsed = res
    if elapsed < 1.0:
        time.sleep(1.0 - elapsed)  # n requests per second, sent flat out, then idle
    return p50, p99, n / max(elapsed, 1.0), 0


procs = {}


def start_be():
    log = open(os.path.join(WORK, "stress-ng.log"), "w")
    procs["stress-ng"] = subprocess.Popen(
        ["stress-ng", "--cpu", str(NCPU), "--vm", "1", "--vm-bytes", "%dM" % CFG["vm_mb"],
         "--timeout", "0", "--metrics-brief"], stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=in_cgroup(CFG["be_ctr"]))


def start_colod():
    log = open(os.path.join(OUT, "colod.log"), "w")
    p = subprocess.Popen([CFG["colod_bin"], "--config", CFG["colod_config"],
                          "--state_dir", CFG["state_dir"]], stdout=log,
                         stderr=subprocess.STDOUT)
    procs["colod"] = p
    with open(os.path.join(WORK, "colod.pid"), "w") as f:
        f.write(str(p.pid))


def node_busy_ns():
    """CPU time the whole machine spent busy, in ns (/proc/stat: all but idle and iowait)."""
    f = read("/proc/stat").splitlines()[0].split()[1:]
    ticks = sum(int(x) for x in f[:8]) - int(f[3]) - int(f[4])
    return ticks * 1e9 / os.sysconf("SC_CLK_TCK")


def fmt_ms(us):
    return "   -   " if us is None else "%6.2f ms" % (us / 1000)


def bar(frac, width=30):
    n = int(round(frac * width))
    return "[" + "#" * n + "." * (width - n) + "]"


def colod_summary(ctl):
    if ctl is None:
        return None
    states = []
    for c in ctl.get("controllers", []):
        if c.get("name") in ("be-cpu-suppression", "latency-guard", "lsr-borrow",
                             "be-memory-guard"):
            states.append("%s %s" % (c["name"], c.get("state", "?")))
    if ctl.get("frozen"):
        states.insert(0, "FROZEN")
    return ", ".join(states)


CALIB = {}


def main():
    global FLAT_OUT
    CALIB["load_start"] = " ".join(read("/proc/loadavg").split(" ")[:3])
    in_cgroup(CFG["system"])()  # the sampler and colod run beside kubepods, as daemons do
    print("demo: calibrating: %s flat out for %d s" % (
        "wrk, %d connections," % WRK_CONNS if CFG["ls"] == "nginx" else
        "redis-benchmark, %d clients," % REDIS_CLIENTS, CALIBRATE_S), flush=True)
    FLAT_OUT, flat_cores = calibrate()
    if not FLAT_OUT:
        print("demo: calibration failed: %s gave no result (is %s answering on port %d?)" % (
            "wrk" if CFG["ls"] == "nginx" else "redis-benchmark", CFG["ls"], CFG["port"]),
            file=sys.stderr)
        sys.exit(1)
    CALIB.update(flat_out=FLAT_OUT, flat_cores=flat_cores)
    print("demo: LS flat out %.0f req/s (LS pod, load generator included, %.2f cores); "
          "base load %.2f = %.0f req/s, burst %.2f = %.0f req/s" % (
              FLAT_OUT, flat_cores, BASE_FRACTION, BASE_FRACTION * FLAT_OUT, BURST_FRACTION,
              BURST_FRACTION * FLAT_OUT), flush=True)
    samples = []
    slo_us = float(CFG["slo_ms"]) * 1000 if CFG["slo_ms"] else None
    start = time.monotonic()
    phase = -1
    last_ls = cpu_ns(CFG["ls_pod"])
    last_be = cpu_ns(CFG["be_pod"])
    last_node = node_busy_ns()
    last_t = start
    prev_knobs = None
    prev_ctl_sig = None
    last_action = "-"
    colod_state = "off" if not CFG["colod"] else "not started"
    lines_drawn = 0
    if TTY:
        sys.stdout.write("\x1b[?25l")
    while True:
        t = time.monotonic() - start
        if t >= CFG["duration"]:
            break
        new_phase = max(i for i in range(len(PHASES)) if BOUNDS[i] <= t)
        if new_phase != phase:
            phase = new_phase
            name = PHASES[phase][0]
            if name == "be":
                start_be()
                last_action = "+%ds stress-ng started in the BE pod" % int(t)
            elif name == "colod" and CFG["colod"]:
                start_colod()
                colod_state = "starting"
                last_action = "+%ds colod started (default policy)" % int(t)
            if name == "colod" and slo_us is None:
                base = [s["p99_us"] for s in samples if s["phase"] == "baseline" and s["p99_us"]]
                slo_us = max(1000.0, 2 * statistics.median(base)) if base else 1000.0
            if phase == 1 and slo_us is None:
                base = [s["p99_us"] for s in samples if s["p99_us"]]
                slo_us = max(1000.0, 2 * statistics.median(base)) if base else 1000.0
        name = PHASES[phase][0]
        res = load_slice(phase_fraction(name))
        now = time.monotonic()
        ls_ns, be_ns, node_ns = cpu_ns(CFG["ls_pod"]), cpu_ns(CFG["be_pod"]), node_busy_ns()
        dt = max(now - last_t, 1e-3)
        ls_cores, be_cores = (ls_ns - last_ls) / 1e9 / dt, (be_ns - last_be) / 1e9 / dt
        # Everything else on the machine (the demo's sampler and colod, other users): what
        # colod counts as "system" next to LS when it sizes BE.
        other_cores = max(0.0, (node_ns - last_node) / 1e9 / dt - ls_cores - be_cores)
        last_ls, last_be, last_node, last_t = ls_ns, be_ns, node_ns, now
        cs, idle = be_cpuset(), be_idle()
        ctl = None
        if "colod" in procs:
            rc = procs["colod"].poll()
            if rc is not None:
                colod_state = "EXITED (%d): see %s/colod.log" % (rc, OUT)
            else:
                ctl = api("/v1/controllers")
                summ = colod_summary(ctl)
                if summ is not None:
                    colod_state = summ or "running"
                elif api("/v1/containers") is not None:
                    colod_state = "running (policy engine off)"
        knobs = (cs, idle)
        if prev_knobs is not None and knobs != prev_knobs:
            what = []
            if cs != prev_knobs[0]:
                what.append("BE cpuset %s -> %s (%d CPU)" % (prev_knobs[0], cs, cpus_count(cs)))
            if idle != prev_knobs[1]:
                what.append("BE pod cpu.idle %s -> %s" % (prev_knobs[1], idle))
            last_action = "+%ds %s" % (int(now - start), "; ".join(what))
        prev_knobs = knobs
        if ctl is not None:
            sig = colod_summary(ctl)
            if ctl.get("reasons"):
                # Why colod changed its plan this tick, in its own words (the budget, the guard).
                last_action = "+%ds colod: %s" % (int(now - start), "; ".join(ctl["reasons"]))
            elif prev_ctl_sig is not None and sig != prev_ctl_sig and "cpuset" not in last_action:
                last_action = "+%ds %s" % (int(now - start), sig)
            prev_ctl_sig = sig
        p50 = p99 = rps = errs = None
        if res:
            p50, p99, rps, errs = res
        s = {"t": round(now - start, 2), "phase": name,
             "target_rps": phase_fraction(name) * FLAT_OUT, "ls_rps": rps, "p50_us": p50,
             "p99_us": p99, "errors": errs, "ls_cpu": ls_cores, "be_cpu": be_cores,
             "other_cpu": other_cores,
             "be_cpus": cpus_count(cs) if cs else NCPU, "be_cpuset": cs, "be_idle": idle,
             "colod_be_cpus": ",".join(str(c) for c in ctl["be_cpus"]) if ctl and "be_cpus" in ctl
             else "", "colod": colod_state, "action": last_action}
        samples.append(s)
        # Live view.
        frac = min(1.0, (now - start) / CFG["duration"])
        slo_txt = "SLO %s" % fmt_ms(slo_us).strip() if slo_us else "SLO set after baseline"
        over = p99 is not None and slo_us is not None and p99 > slo_us
        if TTY:
            view = [
                "colo demo  phase %d/%d %-9s %-28s %s %3ds/%ds" % (
                    phase + 1, len(PHASES), name, "(" + PHASES[phase][1] + ")", bar(frac),
                    int(now - start), CFG["duration"]),
                "  LS %-5s p99 %s %s (%s)  p50 %s  %7.0f req/s (%.2g of flat out)" % (
                    CFG["ls"], fmt_ms(p99), "\x1b[31mOVER\x1b[0m" if over else "  ok" if p99 else "    ",
                    slo_txt, fmt_ms(p50), rps or 0, phase_fraction(name)),
                "  BE stress-ng  CPU %4.2f cores  cpuset %s (%d CPU)  pod cpu.idle %s  | LS CPU %4.2f  rest %4.2f" % (
                    be_cores, cs or "all", s["be_cpus"], idle, ls_cores, other_cores),
                "  colod  %s" % colod_state,
                "  last action  %s" % last_action,
            ]
            if lines_drawn:
                sys.stdout.write("\x1b[%dA" % lines_drawn)
            for line in view:
                sys.stdout.write("\x1b[2K" + line[:200] + "\n")
            lines_drawn = len(view)
            sys.stdout.flush()
        else:
            print("t=%5.1f %-8s LS p99 %s p50 %s %6.0f req/s | LS cpu %.2f BE cpu %.2f rest %.2f cpuset %s idle %s | colod: %s | %s" % (
                now - start, name, fmt_ms(p99).strip(), fmt_ms(p50).strip(), rps or 0, ls_cores,
                be_cores, other_cores, cs or "all", idle, colod_state, last_action), flush=True)
    if TTY:
        sys.stdout.write("\x1b[?25h")
    finish(samples, slo_us or 1000.0)


def finish(samples, slo_us):
    # colod's journaled revisions, while its state dir still exists.
    if "colod" in procs and os.path.isdir(CFG["state_dir"]):
        r = subprocess.run([CFG["coloctl_bin"], "revisions", "--state_dir", CFG["state_dir"]],
                           capture_output=True, text=True)
        with open(os.path.join(OUT, "colod-revisions.txt"), "w") as f:
            f.write(r.stdout + r.stderr)
        # Stop colod now so its shutdown (restoring the knobs) is in its log.
        procs["colod"].send_signal(signal.SIGTERM)
        try:
            procs["colod"].wait(10)
        except subprocess.TimeoutExpired:
            pass
    if "stress-ng" in procs:
        procs["stress-ng"].send_signal(signal.SIGINT)
        try:
            procs["stress-ng"].wait(5)
        except subprocess.TimeoutExpired:
            procs["stress-ng"].kill()
        shutil.copy(os.path.join(WORK, "stress-ng.log"), OUT)

    # plot.gp reads columns by number: append new ones at the end.
    cols = ["t", "phase", "ls_rps", "p50_us", "p99_us", "errors", "ls_cpu", "be_cpu", "be_cpus",
            "be_cpuset", "be_idle", "colod_be_cpus", "colod", "action", "other_cpu", "target_rps"]
    with open(os.path.join(OUT, "samples.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for s in samples:
            row = []
            for c in cols:
                v = s[c]
                if v is None:
                    v = ""
                elif isinstance(v, float):
                    v = "%.4f" % v
                v = str(v)
                if "," in v or '"' in v:
                    v = '"' + v.replace('"', '""') + '"'
                row.append(v)
            f.write(",".join(row) + "\n")
    with open(os.path.join(OUT, "phases.csv"), "w") as f:
        f.write("start_s,end_s,phase,what\n")
        for i, (n, what) in enumerate(PHASES):
            f.write("%d,%d,%s,%s\n" % (BOUNDS[i], BOUNDS[i + 1], n, what))

    def med(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    base = [s for s in samples if s["phase"] == "baseline"]
    b50, b99, brps = med(s["p50_us"] for s in base), med(s["p99_us"] for s in base), \
        med(s["ls_rps"] for s in base)

    def ratio(v, b):
        return "-" if v is None or not b else "%.2fx" % (v / b)

    def steps(vals):
        """Distinct consecutive values: "2", "2→1", "1→2→1"."""
        out = []
        for v in vals:
            if not out or out[-1] != v:
                out.append(v)
        return "→".join(str(v) for v in out[:4]) + ("→…" if len(out) > 4 else "")

    lines = ["| phase | s | LS load (× flat out) | LS req/s | LS p50 | ×base | LS p99 | ×base | worst p99 | seconds over SLO | LS CPU | rest of machine | BE cpuset (CPUs) | BE CPU (cores) | BE CPU-s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for i, (n, what) in enumerate(PHASES):
        ps = [s for s in samples if s["phase"] == n]
        if not ps:
            continue
        p50, p99, rps = med(s["p50_us"] for s in ps), med(s["p99_us"] for s in ps), \
            med(s["ls_rps"] for s in ps)
        worst = max((s["p99_us"] for s in ps if s["p99_us"] is not None), default=None)
        over = sum(1 for s in ps if s["p99_us"] is not None and s["p99_us"] > slo_us)
        be = statistics.mean(s["be_cpu"] for s in ps)
        be_s = be * (BOUNDS[i + 1] - BOUNDS[i])
        lines.append("| %d %s | %d | %.2f | %.0f | %s | %s | %s | %s | %s | %d/%d | %.2f | %.2f | %s | %.2f | %.0f |" % (
            i + 1, n, BOUNDS[i + 1] - BOUNDS[i], phase_fraction(n), rps or 0,
            fmt_ms(p50).strip(), ratio(p50, b50), fmt_ms(p99).strip(), ratio(p99, b99),
            fmt_ms(worst).strip(), over, len(ps), statistics.mean(s["ls_cpu"] for s in ps),
            statistics.mean(s["other_cpu"] for s in ps), steps(s["be_cpus"] for s in ps), be,
            be_s))
    # When the BE cpuset changed, as seen by the sampler (1-second resolution).
    events = []
    for prev, s in zip(samples, samples[1:]):
        if s["be_cpus"] != prev["be_cpus"]:
            i = [n for n, _ in PHASES].index(s["phase"])
            events.append("+%.0f s (phase %d %s +%.0f s): BE cpuset %s → %s (%d → %d CPUs)" % (
                s["t"], i + 1, s["phase"], s["t"] - BOUNDS[i], prev["be_cpuset"], s["be_cpuset"],
                prev["be_cpus"], s["be_cpus"]))
    if events:
        lines += ["", "BE cpuset changes, as sampled once a second:", ""]
        lines += ["- " + e for e in events[:12]] + (["- …"] if len(events) > 12 else [])
    head = ["colo demo: %s, %ds, colod %s, cgroup v%d, %d CPUs, %s, load average at start %s, at end %s" % (
        CFG["ls"], CFG["duration"], "on" if CFG["colod"] else "off (--no-colod)",
        CFG["cgroup_version"], NCPU, os.uname().release, CALIB["load_start"],
        " ".join(read("/proc/loadavg").split(" ")[:3])),
        "LS flat out (calibrated, %d s): %.0f req/s, LS pod %.2f cores (load generator included); "
        "base load %.2f = %.0f req/s, burst %.2f = %.0f req/s." % (
            CALIBRATE_S, FLAT_OUT, CALIB["flat_cores"], BASE_FRACTION, BASE_FRACTION * FLAT_OUT,
            BURST_FRACTION, BURST_FRACTION * FLAT_OUT),
        "LS figures are medians of the per-second values; SLO (LS p99) %.2f ms; CPU columns are means in cores; "
        "rest of machine = everything outside LS and BE (colod, the sampler, other users); "
        "BE cpuset = its size over the phase; BE CPU-s = BE CPU time over the phase." % (slo_us / 1000),
        ""]
    summary = "\n".join(head + lines) + "\n"
    with open(os.path.join(OUT, "summary.md"), "w") as f:
        f.write(summary)
    print()
    print(summary)
    plot(slo_us, samples)
    print("demo: output in %s: summary.md samples.csv phases.csv latency.png cpu.png overview.png colod.log" % OUT)


def plot(slo_us, samples):
    gp = os.path.join(OUT, "plot.gp")
    term = "pngcairo size 1200,500 font 'sans,11'"
    probe = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], capture_output=True,
                           text=True)
    if probe.returncode != 0 or "unknown" in probe.stderr.lower():
        term = "png size 1200,500"
    marks = []
    colors = ["#ffffff", "#fff3e0", "#e8f5e9", "#e3f2fd", "#f3e5f5"]
    for i, (n, what) in enumerate(PHASES):
        marks.append("set object %d rect from %d, graph 0 to %d, graph 1 behind fc rgb '%s' fs solid noborder" % (
            i + 1, BOUNDS[i], BOUNDS[i + 1], colors[i % len(colors)]))
        marks.append("set label %d '%d %s' at %f, graph 0.96 center font ',10'" % (
            i + 1, i + 1, n, (BOUNDS[i] + BOUNDS[i + 1]) / 2))
        if i:
            marks.append("set arrow %d from %d, graph 0 to %d, graph 1 nohead dt 2 lc rgb '#777777'" % (
                i + 1, BOUNDS[i], BOUNDS[i]))
    # colod's actions, as seen in the BE cgroups' knobs: a marker where they changed.
    prev = None
    events = []
    for s in samples:
        knobs = (s["be_cpuset"], s["be_idle"])
        if prev is not None and knobs != prev:
            what = []
            if knobs[0] != prev[0]:
                what.append("BE cpuset %s→%s" % (prev[0], knobs[0]))
            if knobs[1] != prev[1]:
                what.append("cpu.idle %s→%s" % (prev[1], knobs[1]))
            events.append((s["t"], "colod: " + ", ".join(what)))
        prev = knobs
    # A line at every change; a label only where it has room (on a big machine colod moves the
    # BE cpuset one CPU a second while it releases: labels a second apart would overprint).
    labeled = []
    for j, (t, what) in enumerate(events[:40]):
        marks.append("set arrow %d from %.1f, graph 0 to %.1f, graph 0.9 nohead lw 1 lc rgb '#9467bd'" % (
            20 + j, t, t))
        if len(labeled) < 6 and (not labeled or t - labeled[-1] >= CFG["duration"] / 12):
            labeled.append(t)
            marks.append("set label %d \"%s\" at %.1f, graph %.2f left offset 0.5,0 tc rgb '#5b2c83' font ',9'" % (
                20 + j, what.replace('"', ''), t, 0.86 - 0.06 * ((len(labeled) - 1) % 4)))
    mode = "colod on" if CFG["colod"] else "no colod"
    script = f"""
set datafile separator ','
set key outside right top vertical
set lmargin at screen 0.07
set rmargin at screen 0.80
set grid ytics lc rgb '#dddddd'
set xrange [0:{CFG['duration']}]
set xlabel 'time (s)'
{chr(10).join(marks)}
set terminal {term}
set output '{OUT}/latency.png'
set title 'LS ({CFG["ls"]}) latency per second, {mode}: phases 1 baseline, 2 BE arrives, 3 colod, 4 LS burst, 5 calm'
set ylabel 'latency (ms)'
set logscale y
set yrange [0.01:*]
plot '{OUT}/samples.csv' every ::1 using 1:($5/1000) with lines lw 2 lc rgb '#d62728' title 'LS p99', \\
     '' every ::1 using 1:($4/1000) with lines lw 2 lc rgb '#1f77b4' title 'LS p50', \\
     {slo_us / 1000} with lines dt 2 lw 2 lc rgb '#000000' title 'SLO (p99) {slo_us / 1000:.2f} ms'
unset logscale y
set output '{OUT}/cpu.png'
set title 'CPU (cores, stacked), {mode}; BE cpuset size = the CPUs colod lets BE use'
set ylabel 'cores'
set yrange [0:{NCPU + 0.5}]
plot '{OUT}/samples.csv' every ::1 using 1:($7+$15+$8) with filledcurves x1 fc rgb '#ff9f40' fs transparent solid 0.6 title 'BE (stress-ng)', \\
     '' every ::1 using 1:($7+$15) with filledcurves x1 fc rgb '#aaaaaa' fs transparent solid 0.7 title 'rest of machine', \\
     '' every ::1 using 1:7 with filledcurves x1 fc rgb '#2ca02c' fs transparent solid 0.8 title 'LS ({CFG["ls"]} + load generator)', \\
     '' every ::1 using 1:9 with steps lw 2 dt 2 lc rgb '#9467bd' title 'BE cpuset size (CPUs)', \\
     {WATERMARK * NCPU} with lines lw 1 dt 3 lc rgb '#d62728' title "colod's watermark ({WATERMARK:.0%})", \\
     {NCPU} with lines lw 1 lc rgb '#000000' title 'CPUs ({NCPU})'
set terminal {term.replace('1200,500', '1200,900')}
set output '{OUT}/overview.png'
set multiplot layout 2,1
set title 'LS ({CFG["ls"]}) latency per second, {mode}'
set ylabel 'latency (ms)'
set logscale y
set yrange [0.01:*]
plot '{OUT}/samples.csv' every ::1 using 1:($5/1000) with lines lw 2 lc rgb '#d62728' title 'LS p99', \\
     '' every ::1 using 1:($4/1000) with lines lw 2 lc rgb '#1f77b4' title 'LS p50', \\
     {slo_us / 1000} with lines dt 2 lw 2 lc rgb '#000000' title 'SLO'
unset logscale y
set title 'CPU (cores)'
set ylabel 'cores'
set yrange [0:{NCPU + 0.5}]
plot '{OUT}/samples.csv' every ::1 using 1:($7+$15+$8) with filledcurves x1 fc rgb '#ff9f40' fs transparent solid 0.6 title 'BE (stacked)', \\
     '' every ::1 using 1:($7+$15) with filledcurves x1 fc rgb '#aaaaaa' fs transparent solid 0.7 title 'rest', \\
     '' every ::1 using 1:7 with filledcurves x1 fc rgb '#2ca02c' fs transparent solid 0.8 title 'LS', \\
     '' every ::1 using 1:9 with steps lw 2 dt 2 lc rgb '#9467bd' title 'BE cpuset size', \\
     {WATERMARK * NCPU} with lines lw 1 dt 3 lc rgb '#d62728' title 'watermark'
unset multiplot
"""
    with open(gp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print("demo: gnuplot failed (the CSV is there): " + r.stderr.strip()[-800:], file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        if TTY:
            sys.stdout.write("\x1b[?25h\n")
        sys.exit(130)
