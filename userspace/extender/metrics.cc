#include "extender/metrics.h"

#include <fmt/format.h>

namespace colo::extender {

std::string_view pluginName(Plugin p) {
  switch (p) {
    case Plugin::kSafetyWatermark:
      return "SafetyWatermark";
    case Plugin::kColocationGate:
      return "HybridUnschedulable";
    case Plugin::kBeFit:
      return "BEFit";
    case Plugin::kLoadAware:
      return "NodeInfoRt";
    case Plugin::kBalance:
      return "NodeBalance";
    case Plugin::kCoolDown:
      return "CoolDownHotNode";
    case Plugin::kCount:
      break;
  }
  return "?";
}

namespace {

std::string_view verbName(size_t v) {
  static constexpr std::string_view kNames[] = {"filter", "prioritize", "healthz", "metrics",
                                                "other"};
  return kNames[v];
}

std::string_view decisionName(size_t d) {
  static constexpr std::string_view kNames[] = {"pass", "reject", "unresolvable", "scored",
                                                "neutral"};
  return kNames[d];
}

}  // namespace

void Histogram::observe(int64_t ns) {
  size_t i = 0;
  while (i < kBoundsNs.size() && ns > kBoundsNs[i]) {
    ++i;
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

void Histogram::render(std::string* out, std::string_view name, std::string_view labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBoundsNs.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    *out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels,
                        static_cast<double>(kBoundsNs[i]) / 1e9, cumulative);
  }
  cumulative += buckets_[kBoundsNs.size()].load(std::memory_order_relaxed);
  *out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cumulative);
  *out += fmt::format("{}_sum{{{}}} {}\n", name, labels,
                      static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  *out += fmt::format("{}_count{{{}}} {}\n", name, labels, count_.load(std::memory_order_relaxed));
}

void ExtenderMetrics::flushDecisions() {
  Tally& t = tally();
  for (size_t p = 0; p < t.size(); ++p) {
    for (size_t d = 0; d < t[p].size(); ++d) {
      if (t[p][d] != 0) {
        decisions[p][d].fetch_add(t[p][d], std::memory_order_relaxed);
        t[p][d] = 0;
      }
    }
  }
}

void ExtenderMetrics::countRequest(Verb verb, int code) {
  size_t idx = kCodes.size();
  for (size_t i = 0; i < kCodes.size(); ++i) {
    if (kCodes[i] == code) {
      idx = i;
      break;
    }
  }
  requests[size_t(verb)][idx].fetch_add(1, std::memory_order_relaxed);
}

std::string ExtenderMetrics::render() const {
  std::string out;
  out.reserve(8192);
  out += "# HELP colo_extender_requests_total HTTP requests by verb and status code.\n";
  out += "# TYPE colo_extender_requests_total counter\n";
  for (size_t v = 0; v < size_t(Verb::kCount); ++v) {
    for (size_t c = 0; c <= kCodes.size(); ++c) {
      uint64_t n = requests[v][c].load(std::memory_order_relaxed);
      if (n == 0) {
        continue;
      }
      std::string code = c < kCodes.size() ? std::to_string(kCodes[c]) : "other";
      out += fmt::format("colo_extender_requests_total{{verb=\"{}\",code=\"{}\"}} {}\n",
                         verbName(v), code, n);
    }
  }
  out += "# HELP colo_extender_request_duration_seconds Time from parsed request to response.\n";
  out += "# TYPE colo_extender_request_duration_seconds histogram\n";
  latency[0].render(&out, "colo_extender_request_duration_seconds", "verb=\"filter\"");
  latency[1].render(&out, "colo_extender_request_duration_seconds", "verb=\"prioritize\"");
  out += "# HELP colo_extender_plugin_decisions_total Per-node decisions of each plugin.\n";
  out += "# TYPE colo_extender_plugin_decisions_total counter\n";
  for (size_t p = 0; p < size_t(Plugin::kCount); ++p) {
    for (size_t d = 0; d < size_t(Decision::kCount); ++d) {
      uint64_t n = decisions[p][d].load(std::memory_order_relaxed);
      if (n == 0) {
        continue;
      }
      out +=
          fmt::format("colo_extender_plugin_decisions_total{{plugin=\"{}\",decision=\"{}\"}} {}\n",
                      pluginName(Plugin(p)), decisionName(d), n);
    }
  }
  out += "# HELP colo_extender_unusable_node_metrics_total Nodes scored neutrally, by reason.\n";
  out += "# TYPE colo_extender_unusable_node_metrics_total counter\n";
  for (MetricsState s : {MetricsState::kMissing, MetricsState::kStale, MetricsState::kGarbled}) {
    out += fmt::format("colo_extender_unusable_node_metrics_total{{reason=\"{}\"}} {}\n",
                       metricsStateName(s), unusable_metrics[size_t(s)].load());
  }
  out += "# HELP colo_extender_unknown_nodes_total NodeNames asked about that the cache lacks.\n";
  out += "# TYPE colo_extender_unknown_nodes_total counter\n";
  out += fmt::format("colo_extender_unknown_nodes_total {}\n", unknown_nodes.load());
  out += "# TYPE colo_extender_cool_down_wins_total counter\n";
  out += fmt::format("colo_extender_cool_down_wins_total {}\n", cool_down_wins.load());
  if (cache_nodes.load() >= 0) {
    out += "# HELP colo_extender_node_cache_nodes Nodes in the watch cache.\n";
    out += "# TYPE colo_extender_node_cache_nodes gauge\n";
    out += fmt::format("colo_extender_node_cache_nodes {}\n", cache_nodes.load());
    out += "# TYPE colo_extender_node_cache_synced gauge\n";
    out += fmt::format("colo_extender_node_cache_synced {}\n", cache_synced.load());
    out += "# TYPE colo_extender_watch_events_total counter\n";
    out += fmt::format("colo_extender_watch_events_total {}\n", watch_events.load());
    out += "# TYPE colo_extender_watch_restarts_total counter\n";
    out += fmt::format("colo_extender_watch_restarts_total {}\n", watch_restarts.load());
    out += "# TYPE colo_extender_relists_total counter\n";
    out += fmt::format("colo_extender_relists_total {}\n", relists.load());
    out += "# TYPE colo_extender_watch_errors_total counter\n";
    out += fmt::format("colo_extender_watch_errors_total {}\n", watch_errors.load());
  }
  return out;
}

}  // namespace colo::extender
