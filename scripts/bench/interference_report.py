#!/usr/bin/env python3
"""Aggregate scripts/bench-interference.sh results: OUT/results.jsonl -> table on stdout,
OUT/summary.csv and OUT/summary.json.

Ratios are paired within a repetition (arm / the same repetition's LS-alone or BE-alone run),
then summarized over repetitions as median and min-max. Python 3 standard library only."""
import csv
import json
import os
import statistics
import sys

ARMS = ["ls-alone", "be-alone", "none", "k8s", "colod", "colod-budget", "colod-slice"]
LABEL = {
    "ls-alone": "LS alone",
    "be-alone": "BE alone",
    "none": "LS+BE, no policy (BE shares 1024)",
    "k8s": "LS+BE, k8s default (BE shares 2)",
    "colod": "LS+BE, colod",
    "colod-budget": "LS+BE, colod be_cpu.mode=budget",
    "colod-slice": "LS+BE, colod be_cpu.task_slice_us=100000",
}
# targets from the issue, checked on the colod arm
P99_MAX = 1.1
RPS_MIN = 0.95
IDLE_SHARE_MIN = 0.80


def summary(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def fmt(s, pct=False, digits=2):
    if s is None:
        return "–"
    f = (lambda x: f"{x:.0%}") if pct else (lambda x: f"{x:.{digits}f}")
    if s["n"] == 1 or s["min"] == s["max"]:
        return f(s["median"])
    return f"{f(s['median'])} ({f(s['min'])}–{f(s['max'])})"


def ratio(a, b):
    return a / b if a is not None and b else None


def main(out):
    recs = [json.loads(line) for line in open(os.path.join(out, "results.jsonl")) if line.strip()]
    combos = []
    for r in recs:
        if (r["ls"], r["shape"]) not in combos:
            combos.append((r["ls"], r["shape"]))
    rows = []
    verdicts = []
    for ls, shape in combos:
        by = {}
        for r in recs:
            if (r["ls"], r["shape"]) == (ls, shape):
                by[(r["arm"], r["rep"])] = r
        reps = sorted({rep for (_, rep) in by})
        print(f"### {ls}, {shape}\n")
        print("| arm | LS p50 (µs) | LS p99 (µs) | LS req/s | p50 ratio | p99 ratio | req/s ratio "
              "| BE cpu bogo ratio | BE stream bogo ratio | LS cores | BE cores | BE share of idle CPU "
              "| same, load generator's CPU not idle |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for arm in ARMS:
            runs = [(rep, by[(arm, rep)]) for rep in reps if (arm, rep) in by]
            if not runs:
                continue
            col = {k: [] for k in ("p50", "p99", "rps", "r50", "r99", "rrps", "bcpu", "bstream",
                                   "lscores", "becores", "idle", "idle_x")}
            for rep, r in runs:
                la = by.get(("ls-alone", rep))
                ba = by.get(("be-alone", rep))
                col["p50"].append(r.get("p50_us"))
                col["p99"].append(r.get("p99_us"))
                col["rps"].append(r.get("rps"))
                if la and "rps" in r and "rps" in la:
                    col["r50"].append(ratio(r["p50_us"], la["p50_us"]))
                    col["r99"].append(ratio(r["p99_us"], la["p99_us"]))
                    col["rrps"].append(ratio(r["rps"], la["rps"]))
                if ba and "be_cpu_bogo_per_s" in r:
                    col["bcpu"].append(ratio(r["be_cpu_bogo_per_s"], ba["be_cpu_bogo_per_s"]))
                    col["bstream"].append(ratio(r.get("be_stream_bogo_per_s"),
                                                ba.get("be_stream_bogo_per_s")))
                wall = r["wall_s"]
                col["lscores"].append(r["ls_cpu_s"] / wall)
                col["becores"].append(r["be_cpu_s"] / wall)
                if "be_cpu_bogo_per_s" in r and "rps" in r:
                    # the definition: BE CPU / (all CPU time - LS CPU time)
                    idle = r["ncpu"] * wall - r["ls_cpu_s"]
                    col["idle"].append(r["be_cpu_s"] / idle if idle > 0 else None)
                    # the same without the load generator's CPU, which BE cannot have either
                    idle_x = idle - r["client_cpu_s"]
                    col["idle_x"].append(r["be_cpu_s"] / idle_x if idle_x > 0 else None)
            s = {k: summary(v) for k, v in col.items()}
            print(f"| {LABEL[arm]} | {fmt(s['p50'], digits=0)} | {fmt(s['p99'], digits=0)} | "
                  f"{fmt(s['rps'], digits=0)} | {fmt(s['r50'])} | {fmt(s['r99'])} | "
                  f"{fmt(s['rrps'])} | {fmt(s['bcpu'])} | {fmt(s['bstream'])} | "
                  f"{fmt(s['lscores'])} | {fmt(s['becores'])} | {fmt(s['idle'], pct=True)} | "
                  f"{fmt(s['idle_x'], pct=True)} |")
            row = {"ls": ls, "shape": shape, "arm": arm, "reps": len(runs)}
            for k, v in s.items():
                for stat in ("median", "min", "max"):
                    row[f"{k}_{stat}"] = v[stat] if v else None
            rows.append(row)
            if arm.startswith("colod"):
                r99 = s["r99"]["median"] if s["r99"] else None
                if shape == "saturating":
                    rr = s["rrps"]["median"] if s["rrps"] else None
                    ok = r99 is not None and rr is not None and r99 <= P99_MAX and rr >= RPS_MIN
                    verdicts.append(f"{ls}, saturating, {arm}: p99 ratio {r99 and f'{r99:.2f}'} "
                                    f"(target ≤ {P99_MAX}), req/s ratio {rr and f'{rr:.2f}'} "
                                    f"(target ≥ {RPS_MIN}): {'MET' if ok else 'NOT MET'}")
                else:
                    idle = s["idle"]["median"] if s["idle"] else None
                    idle_x = s["idle_x"]["median"] if s["idle_x"] else None
                    # The load generator stands in for remote clients: on a real node its CPU
                    # is idle time BE could have, here BE cannot. Judged without it, both shown.
                    ok = (r99 is not None and idle_x is not None and r99 <= P99_MAX
                          and idle_x >= IDLE_SHARE_MIN)
                    verdicts.append(f"{ls}, paced, {arm}: p99 ratio {r99 and f'{r99:.2f}'} "
                                    f"(target ≤ {P99_MAX}), BE share of idle CPU "
                                    f"{idle_x and f'{idle_x:.0%}'} with the load generator's CPU "
                                    f"not counted as idle ({idle and f'{idle:.0%}'} counting it) "
                                    f"(target ≥ {IDLE_SHARE_MIN:.0%}): "
                                    f"{'MET' if ok else 'NOT MET'}")
        print()
    print("Medians over repetitions, (min–max) when they differ. Ratios are to the same repetition's "
          "LS-alone / BE-alone run. BE share of idle CPU = BE CPU time / (CPUs × wall − LS CPU time); "
          "the load generator's CPU counts as idle there; the next column does not count it (a real "
          "node's clients run elsewhere), and the paced verdict uses that one.")
    print()
    failed = [r for r in recs if r.get("client_failed")]
    if failed:
        print(f"- WARNING: {len(failed)} run(s) without a client result (load generator failed or "
              f"timed out), e.g. {failed[0]['ls']} {failed[0]['shape']} {failed[0]['arm']} "
              f"rep {failed[0]['rep']}; they are left out of the medians")
    bad = [r for r in recs if r.get("errors")]
    if bad:
        print(f"- WARNING: {len(bad)} run(s) had client errors (non-2xx, timeouts, resets), e.g. "
              f"{bad[0]['ls']} {bad[0]['shape']} {bad[0]['arm']} rep {bad[0]['rep']}: "
              f"{bad[0]['errors']} of {bad[0]['requests']}")
    for v in verdicts:
        print(f"- {v}")
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"rows": rows, "verdicts": verdicts}, f, indent=1)
    if rows:
        with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: interference_report.py OUT_DIR")
    main(sys.argv[1])
