#!/usr/bin/env python3
"""Writes docs/grafana-dashboard.json: colod's and colo-extender's Prometheus metrics.
Regenerate after adding a panel: python3 scripts/demo/gen-dashboard.py > docs/grafana-dashboard.json
(scripts/check-docs.sh checks that every metric the dashboard uses is one colod or the extender
documents)."""
import json

DS = {"type": "prometheus", "uid": "${datasource}"}
panels = []
y = 0


def row(title):
    global y
    panels.append({"type": "row", "title": title, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "id": len(panels) + 1,
                   "panels": []})
    y += 1


def ts(title, targets, unit="short", w=12, desc="", stack=False, x=None):
    global y
    if x is None:
        x = 0 if not panels or panels[-1]["type"] == "row" or panels[-1]["gridPos"]["x"] + panels[-1]["gridPos"]["w"] >= 24 else panels[-1]["gridPos"]["x"] + panels[-1]["gridPos"]["w"]
    if x == 0 and panels and panels[-1]["type"] != "row":
        y += 8
    p = {"type": "timeseries", "title": title, "description": desc, "datasource": DS,
         "id": len(panels) + 1, "gridPos": {"h": 8, "w": w, "x": x, "y": y},
         "fieldConfig": {"defaults": {"unit": unit, "custom": {
             "lineWidth": 2, "fillOpacity": 20 if stack else 0,
             "stacking": {"mode": "normal" if stack else "none"}}}, "overrides": []},
         "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                "calcs": ["lastNotNull", "max"]},
                     "tooltip": {"mode": "multi"}},
         "targets": [{"datasource": DS, "expr": e, "legendFormat": l, "refId": chr(65 + i)}
                     for i, (e, l) in enumerate(targets)]}
    panels.append(p)


N = 'instance=~"$node"'
row("LS protection (colod)")
ts("LS run-queue delay p99 by container",
   [(f'colo_container_runq_delay_window_seconds{{{N},quantile="0.99",tier=~"LS.*"}}',
     "{{instance}} {{container}} ({{tier}})")], "s",
   desc="Window p99 of wakeup-to-run delay (log2 buckets: at most 2x over). LS threshold 5 ms, LSR 2 ms, LSX 1 ms by default.")
ts("LS delays over threshold, per second",
   [(f'sum by (instance, tier) (rate(colo_container_over_threshold_total{{{N}}}[1m]))',
     "{{instance}} {{tier}}"),
    (f'sum by (instance) (rate(colo_container_waited_behind_lower_total{{{N},tier=~"LS.*"}}[1m]))',
     "{{instance}} LS waited behind BE")], "ops")
ts("CPU by tier (cores)",
   [(f'sum by (tier) (colo_container_cpu_usage_cores{{{N},tier=~"$tier"}})', "{{tier}}")],
   "short", stack=True)
ts("BE cpuset size and latency-guard limit",
   [(f'colo_policy_be_cpus{{{N}}}', "{{instance}} BE cpuset (CPUs)"),
    (f'colo_policy_controller_gauge{{{N},controller="latency-guard",name="limit_cpus"}}',
     "{{instance}} guard limit (-1: none)"),
    (f'colo_policy_controller_gauge{{{N},controller="be-cpu-suppression",name="budget_cores"}}',
     "{{instance}} suppression budget (cores)")], "short")
row("Policy engine")
ts("Controller states",
   [(f'colo_policy_controller_state{{{N}}} == 1', "{{instance}} {{controller}}: {{state}}")],
   "short", desc="1 for the state each controller is in.")
ts("Squeezes, releases, latency events",
   [(f'rate(colo_policy_controller_gauge{{{N},controller="latency-guard",name="squeezes_total"}}[5m]) * 60', "{{instance}} squeezes/min"),
    (f'sum by (instance) (rate(colo_agent_latency_events_total{{{N}}}[1m]))', "{{instance}} latency events/s")],
   "short")
ts("Frozen (1) and why",
   [(f'colo_policy_frozen{{{N}}}', "{{instance}} frozen"),
    (f'colo_policy_freeze_reason{{{N}}}', "{{instance}} {{reason}}")], "short")
ts("BE capacity published to the scheduler",
   [(f'colo_be_cpu_millicores{{{N}}} / 1000', "{{instance}} be-cpu (cores)"),
    (f'colo_ot_cpu_millicores{{{N}}} / 1000', "{{instance}} ot-cpu (cores)"),
    (f'colo_be_capacity_term{{{N}}}', "{{instance}} {{term}}")], "short",
   desc="be_cpu = capacity - safety margin - LS peak - system peak - LSX idle (docs/tiers-and-policy.md).")
row("Agent health")
ts("Tick duration",
   [(f'colo_agent_tick_duration_seconds{{{N}}}', "{{instance}} last"),
    (f'colo_agent_tick_duration_max_seconds{{{N}}}', "{{instance}} max")], "s")
ts("Errors and drops",
   [(f'rate(colo_agent_read_errors_total{{{N}}}[5m])', "{{instance}} read errors"),
    (f'rate(colo_agent_bpf_write_errors_total{{{N}}}[5m])', "{{instance}} BPF write errors"),
    (f'sum by (instance, reason) (rate(colo_bpf_events_dropped_total{{{N}}}[5m]))', "{{instance}} events dropped ({{reason}})"),
    (f'rate(colo_bpf_cgroup_events_dropped_total{{{N}}}[5m])', "{{instance}} cgroup events dropped")], "ops")
ts("Containers watched",
   [(f'colo_agent_containers{{{N}}}', "{{instance}} {{tier}}")], "short", stack=True)
ts("Resync differences (events the BPF path missed)",
   [(f'increase(colo_agent_resync_differences_total{{{N}}}[10m])', "{{instance}}")], "short")
row("colo-extender")
ts("Requests by verb and code",
   [('sum by (verb, code) (rate(colo_extender_requests_total[1m]))', "{{verb}} {{code}}")], "reqps")
ts("Request latency p99",
   [('histogram_quantile(0.99, sum by (verb, le) (rate(colo_extender_request_duration_seconds_bucket[5m])))', "{{verb}} p99")], "s")
ts("Plugin decisions",
   [('sum by (plugin, decision) (rate(colo_extender_plugin_decisions_total[5m]))', "{{plugin}} {{decision}}")], "ops")
ts("Unusable node metrics",
   [('sum by (reason) (rate(colo_extender_unusable_node_metrics_total[5m]))', "{{reason}}"),
    ('rate(colo_extender_unknown_nodes_total[5m])', "unknown nodes")], "ops")

dash = {
    "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                  "pluginId": "prometheus", "pluginName": "Prometheus"}],
    "title": "colo: colocation (colod + colo-extender)", "uid": "colo-overview",
    "tags": ["colo", "colocation"], "timezone": "browser", "schemaVersion": 39, "version": 1,
    "refresh": "10s", "time": {"from": "now-1h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
        {"name": "node", "type": "query", "datasource": DS, "label": "node",
         "query": "label_values(colo_agent_ticks_total, instance)", "includeAll": True,
         "multi": True, "current": {"text": "All", "value": "$__all"}, "refresh": 2},
        {"name": "tier", "type": "custom", "label": "tier", "query": "LSX,LSR,LS,BE",
         "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"},
         "options": []}]},
    "panels": panels,
}
print(json.dumps(dash, indent=1))
