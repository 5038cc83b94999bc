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

# Load: `conns` connections, each paced by a per-connection delay, in 1-second slices.
K = max(1, NCPU // 2)
CONNS = 12 * K
THREADS = min(K, 4)
BASE_DELAY_MS = 12  # 12 connections x 1 request / 12 ms = 1000 req/s per K
BURST_DELAY_MS = 4  # x3
BASE_RATE = 1000 * K

PHASES = [
    ("baseline", "LS alone"),
    ("be", "BE arrives, no colod" if CFG["colod"] else "BE arrives"),
    ("colod", "colod starts" if CFG["colod"] else "still no colod (--no-colod)"),
    ("ls-burst", "LS load x3"),
    ("calm", "LS back to base load"),
]


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
    f.write("""local d = tonumber(os.getenv("DEMO_DELAY_MS"))
function delay() return d end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("DEMO %d %d %d %d %d\\n", latency:percentile(50), latency:percentile(99),
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout))
end
""")


def load_slice(delay_ms):
    """One ~1 s slice of load. Returns (p50_us, p99_us, req_per_s, errors) or None."""
    rate = BASE_RATE * BASE_DELAY_MS / delay_ms
    t0 = time.monotonic()
    try:
        if CFG["ls"] == "nginx":
            env = dict(os.environ, DEMO_DELAY_MS=str(delay_ms))
            r = subprocess.run(["wrk", "-t%d" % THREADS, "-c%d" % CONNS, "-d1s", "-s", WRK_LUA,
                                "http://127.0.0.1:%d/" % CFG["port"]], capture_output=True,
                               text=True, env=env, timeout=10, preexec_fn=in_cgroup(CFG["lg_ctr"]))
            for line in r.stdout.splitlines():
                if line.startswith("DEMO "):
                    p50, p99, reqs, dur_us, errs = (int(x) for x in line.split()[1:])
                    return p50, p99, reqs / max(dur_us, 1) * 1e6, errs
            return None
        n = int(rate)
        r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(CFG["port"]), "-c",
                            str(CONNS), "-n", str(n), "-t", "get", "--csv"], capture_output=True,
                           text=True, timeout=10, preexec_fn=in_cgroup(CFG["lg_ctr"]))
        elapsed = time.monotonic() - t0
        for line in r.stdout.splitlines():
            if line.startswith('"GET'):
                f = [x.strip('"') for x in line.split(",")]
                p50, p99 = float(f[4]) * 1000, float(f[6]) * 1000
                left = 1.0 - elapsed
                if left > 0:
                    time.sleep(left)  # a fixed number of requests per second
                return p50, p99, n / max(elapsed, 1.0), 0
        return None
    except subprocess.SubprocessError:
        return None


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


def main():
    in_cgroup(CFG["system"])()  # the sampler and colod run beside kubepods, as daemons do
    samples = []
    slo_us = float(CFG["slo_ms"]) * 1000 if CFG["slo_ms"] else None
    start = time.monotonic()
    phase = -1
    last_ls = cpu_ns(CFG["ls_pod"])
    last_be = cpu_ns(CFG["be_pod"])
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
        delay = BURST_DELAY_MS if name == "ls-burst" else BASE_DELAY_MS
        res = load_slice(delay)
        now = time.monotonic()
        ls_ns, be_ns = cpu_ns(CFG["ls_pod"]), cpu_ns(CFG["be_pod"])
        dt = max(now - last_t, 1e-3)
        ls_cores, be_cores = (ls_ns - last_ls) / 1e9 / dt, (be_ns - last_be) / 1e9 / dt
        last_ls, last_be, last_t = ls_ns, be_ns, now
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
            if prev_ctl_sig is not None and sig != prev_ctl_sig and "cpuset" not in last_action:
                last_action = "+%ds %s" % (int(now - start), sig)
            prev_ctl_sig = sig
        p50 = p99 = rps = errs = None
        if res:
            p50, p99, rps, errs = res
        s = {"t": round(now - start, 2), "phase": name, "ls_rps": rps, "p50_us": p50,
             "p99_us": p99, "errors": errs, "ls_cpu": ls_cores, "be_cpu": be_cores,
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
                "  LS %-5s p99 %s %s (%s)  p50 %s  %7.0f req/s" % (
                    CFG["ls"], fmt_ms(p99), "\x1b[31mOVER\x1b[0m" if over else "  ok" if p99 else "    ",
                    slo_txt, fmt_ms(p50), rps or 0),
                "  BE stress-ng  CPU %4.2f cores  cpuset %s (%d CPU)  pod cpu.idle %s  | LS CPU %4.2f" % (
                    be_cores, cs or "all", s["be_cpus"], idle, ls_cores),
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
            print("t=%5.1f %-8s LS p99 %s p50 %s %6.0f req/s | LS cpu %.2f BE cpu %.2f cpuset %s idle %s | colod: %s | %s" % (
                now - start, name, fmt_ms(p99).strip(), fmt_ms(p50).strip(), rps or 0, ls_cores,
                be_cores, cs or "all", idle, colod_state, last_action), flush=True)
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

    cols = ["t", "phase", "ls_rps", "p50_us", "p99_us", "errors", "ls_cpu", "be_cpu", "be_cpus",
            "be_cpuset", "be_idle", "colod_be_cpus", "colod", "action"]
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

    lines = ["| phase | s | LS p50 | ×base | LS p99 | ×base | worst p99 | seconds over SLO | LS req/s | ×base | BE CPU (cores) | BE CPU-s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
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
        lines.append("| %d %s | %d | %s | %s | %s | %s | %s | %d/%d | %.0f | %s | %.2f | %.0f |" % (
            i + 1, n, BOUNDS[i + 1] - BOUNDS[i], fmt_ms(p50).strip(), ratio(p50, b50),
            fmt_ms(p99).strip(), ratio(p99, b99), fmt_ms(worst).strip(), over, len(ps),
            rps or 0, ratio(rps, brps), be, be_s))
    head = ["colo demo: %s, %ds, colod %s, cgroup v%d, %d CPUs, %s, load average at end %s" % (
        CFG["ls"], CFG["duration"], "on" if CFG["colod"] else "off (--no-colod)",
        CFG["cgroup_version"], NCPU, os.uname().release, read("/proc/loadavg").split(" ")[:3]),
        "LS figures are medians of the per-second values; SLO (LS p99) %.2f ms; BE CPU-s = BE CPU time over the phase." % (slo_us / 1000),
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
    for j, (t, what) in enumerate(events[:8]):
        marks.append("set arrow %d from %.1f, graph 0 to %.1f, graph 0.9 nohead lw 2 lc rgb '#9467bd'" % (
            20 + j, t, t))
        marks.append("set label %d \"%s\" at %.1f, graph %.2f left offset 0.5,0 tc rgb '#5b2c83' font ',9'" % (
            20 + j, what.replace('"', ''), t, 0.86 - 0.06 * (j % 4)))
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
set title 'LS ({CFG["ls"]}) latency per second, {mode}: phases 1 baseline, 2 BE arrives, 3 colod, 4 LS load x3, 5 calm'
set ylabel 'latency (ms)'
set logscale y
set yrange [0.01:*]
plot '{OUT}/samples.csv' every ::1 using 1:($5/1000) with lines lw 2 lc rgb '#d62728' title 'LS p99', \\
     '' every ::1 using 1:($4/1000) with lines lw 2 lc rgb '#1f77b4' title 'LS p50', \\
     {slo_us / 1000} with lines dt 2 lw 2 lc rgb '#000000' title 'SLO (p99) {slo_us / 1000:.2f} ms'
unset logscale y
set output '{OUT}/cpu.png'
set title 'CPU given to LS and BE (cores), {mode}; BE cpuset size = what colod lets BE use'
set ylabel 'cores'
set yrange [0:{NCPU + 0.5}]
plot '{OUT}/samples.csv' every ::1 using 1:($7+$8) with filledcurves x1 fc rgb '#ff9f40' fs transparent solid 0.6 title 'BE (stress-ng), stacked on LS', \\
     '' every ::1 using 1:7 with filledcurves x1 fc rgb '#2ca02c' fs transparent solid 0.8 title 'LS ({CFG["ls"]} + load generator)', \\
     '' every ::1 using 1:9 with steps lw 2 dt 2 lc rgb '#9467bd' title 'BE cpuset size (CPUs)', \\
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
plot '{OUT}/samples.csv' every ::1 using 1:($7+$8) with filledcurves x1 fc rgb '#ff9f40' fs transparent solid 0.6 title 'BE (stacked)', \\
     '' every ::1 using 1:7 with filledcurves x1 fc rgb '#2ca02c' fs transparent solid 0.8 title 'LS', \\
     '' every ::1 using 1:9 with steps lw 2 dt 2 lc rgb '#9467bd' title 'BE cpuset size'
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
