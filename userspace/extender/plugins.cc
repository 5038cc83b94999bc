#include "extender/plugins.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/log.h"
#include "extender/json_writer.h"

namespace colo::extender {
namespace {

log::RateLimit g_stale_log{std::chrono::seconds(30)};

int64_t podCpuEstimate(const PodInfo& pod, const Config& c) {
  int64_t v = pod.cpu_request_m > 0 ? pod.cpu_request_m : pod.be_cpu_m + pod.ot_cpu_m;
  return v > 0 ? v : c.cool_down.default_pod_cpu_m;
}

int64_t podMemoryEstimate(const PodInfo& pod, const Config& c) {
  int64_t v = pod.memory_request_bytes > 0 ? pod.memory_request_bytes : pod.be_memory_bytes;
  return v > 0 ? v : c.cool_down.default_pod_memory_bytes;
}

// The reason texts are written with std::to_chars rather than fmt: a request can fail thousands
// of nodes each with its own numbers.
void appendInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

void appendMillicores(std::string* out, int64_t m) {
  if (m % 1000 == 0) {
    appendInt(out, m / 1000);
  } else {
    appendInt(out, m);
    out->push_back('m');
  }
}

// Fixed notation with `precision` decimals, rounded as printf/fmt round ("{:.1f}").
void appendFixed(std::string* out, double v, int precision) {
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, precision);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

void appendBytes(std::string* out, int64_t b) {
  if (b >= (1ll << 30)) {
    appendFixed(out, static_cast<double>(b) / (1ll << 30), 1);
    out->append("Gi");
  } else if (b >= (1ll << 20)) {
    appendFixed(out, static_cast<double>(b) / (1ll << 20), 0);
    out->append("Mi");
  } else {
    appendInt(out, b);
  }
}

}  // namespace

// For 0 <= x < 2^52, x - trunc(x) is exact, so comparing it with 0.5 rounds as llround does.
int64_t roundHalfAway(double x) {
  if (x >= 0 && x < 0x1p52) {
    const auto t = static_cast<int64_t>(x);
    return t + (x - static_cast<double>(t) >= 0.5 ? 1 : 0);
  }
  return std::llround(x);
}

namespace {

// The reason text; `lt` is how '<' is written (" < ", or escaped for JSON). Only the texts with
// the config's label (kNotOpen, kUnknownNode) can hold other characters that JSON escapes.
void appendReasonText(const FilterVerdict& v, const Config& c, std::string_view lt,
                      std::string* out) {
  using Why = FilterVerdict::Why;
  const int64_t value = v.value;
  const int64_t limit = v.limit;
  auto it = std::back_inserter(*out);
  switch (v.why) {
    case Why::kNone:
      break;
    case Why::kNotOpen:
      fmt::format_to(it,
                     "colo: node is not open to colocation (needs label {}={}) and the pod "
                     "requests colo.io BE/OT resources",
                     c.colocation_label, c.colocation_label_value);
      break;
    case Why::kUnknownNode:
      fmt::format_to(it,
                     "colo: node unknown to colo-extender's node cache (not synced yet?); "
                     "cannot check its {} label",
                     c.colocation_label);
      break;
    case Why::kLatencyGuard:
      out->append("colo: LS latency guard active on the node (run-queue p99 ");
      appendInt(out, value);
      out->append("us)");
      break;
    case Why::kCpuOverWatermark:
      out->append("colo: node CPU usage ");
      appendInt(out, value);
      out->append("% is over its safety watermark ");
      appendInt(out, limit);
      out->push_back('%');
      break;
    case Why::kMemoryOverWatermark:
      out->append("colo: node memory usage ");
      appendInt(out, value);
      out->append("% is over its safety watermark ");
      appendInt(out, limit);
      out->push_back('%');
      break;
    case Why::kBeCpu:
      out->append("colo: BE CPU left ");
      appendMillicores(out, value);
      out->append(lt);
      out->append("requested colo.io/be-cpu ");
      appendMillicores(out, limit);
      break;
    case Why::kBeMemory:
      out->append("colo: BE memory left ");
      appendBytes(out, value);
      out->append(lt);
      out->append("requested colo.io/be-memory ");
      appendBytes(out, limit);
      break;
    case Why::kOtCpu:
      out->append("colo: OT CPU left ");
      appendMillicores(out, value);
      out->append(lt);
      out->append("requested colo.io/ot-cpu ");
      appendMillicores(out, limit);
      break;
  }
}

}  // namespace

void FilterVerdict::appendReason(const Config& c, std::string* out) const {
  appendReasonText(*this, c, " < ", out);
}

void FilterVerdict::appendJsonReason(const Config& c, std::string* out) const {
  if (why == Why::kNotOpen || why == Why::kUnknownNode) {
    JsonWriter(out).str(reason(c));
    return;
  }
  // Numbers, units and these texts need no escaping but the '<'.
  out->push_back('"');
  appendReasonText(*this, c, " \\u003c ", out);
  out->push_back('"');
}

// The slow half of classify() (plugins.h): the same checks in the same order.
MetricsState Plugins::classifyUnusable(const NodeEntry* entry, int64_t now_ms,
                                       std::string_view name) const {
  MetricsState s;
  std::string_view why;
  if (entry == nullptr) {
    s = MetricsState::kMissing;
    why = "node unknown to the cache";
  } else if (!entry->metrics_error.empty()) {
    s = MetricsState::kGarbled;
    why = entry->metrics_error;
  } else if (!entry->has_metrics) {
    s = MetricsState::kMissing;
    why = "no colo.io/node-metrics annotation";
  } else {
    int64_t age_ms = now_ms - entry->metrics.timestamp_ms;
    int64_t max_ms = int64_t{config_.max_metrics_age_s} * 1000;
    if (age_ms > max_ms || -age_ms > max_ms) {
      s = MetricsState::kStale;
      why = age_ms > 0 ? "metrics older than maxMetricsAgeSeconds"
                       : "metrics timestamp in the future (clock skew?)";
    } else {
      return MetricsState::kOk;
    }
  }
  metrics_->countUnusable(s);
  if (g_stale_log.allow()) {
    log::warn("extender", "node {}: metrics {} ({}); scoring it neutrally ({} similar suppressed)",
              entry != nullptr ? std::string_view(entry->name) : name, metricsStateName(s), why,
              g_stale_log.takeSuppressed());
  }
  return s;
}

void Plugins::placedOn(std::span<const NodeView> nodes, int64_t now_ms,
                       std::vector<Placements::Summary>* out) const {
  placements_->summarizeMany(nodes, now_ms, int64_t{config_.cool_down.window_s} * 1000, out);
}

FilterVerdict Plugins::filter(const PodInfo& pod, const NodeView& node,
                              const Placements::Summary& placed) const {
  const NodeEntry* e = node.entry;
  // HybridUnschedulable: no metrics needed, only the label.
  if (config_.colocation_gate.enabled && pod.wants_colocation) {
    if (e == nullptr) {
      metrics_->countDecision(Plugin::kColocationGate, Decision::kReject);
      return {FilterVerdict::kFail, Plugin::kColocationGate, FilterVerdict::Why::kUnknownNode};
    }
    if (!e->colocation_open) {
      metrics_->countDecision(Plugin::kColocationGate, Decision::kUnresolvable);
      return {FilterVerdict::kUnresolvable, Plugin::kColocationGate, FilterVerdict::Why::kNotOpen};
    }
    metrics_->countDecision(Plugin::kColocationGate, Decision::kPass);
  }
  if (node.state != MetricsState::kOk) {
    return {};  // unusable metrics never filter a node out; scoring treats it as neutral
  }
  const NodeMetrics& m = e->metrics;
  if (config_.safety_watermark.enabled && pod.tier != Tier::kBE) {
    const auto& sw = config_.safety_watermark;
    int64_t cpu_used = m.cpu.used_m + placed.cpu_m;
    int64_t mem_used = m.memory.used_bytes + placed.memory_bytes;
    double cpu_pct = 100.0 * static_cast<double>(cpu_used) / static_cast<double>(m.cpu.capacity_m);
    double mem_pct =
        100.0 * static_cast<double>(mem_used) / static_cast<double>(m.memory.capacity_bytes);
    FilterVerdict v{FilterVerdict::kFail, Plugin::kSafetyWatermark};
    if (sw.check_latency_guard && m.ls.guard_active) {
      v.why = FilterVerdict::Why::kLatencyGuard;
      v.value = m.ls.runq_p99_us;
    } else if (sw.check_cpu && m.watermark.cpu_pct > 0 && cpu_pct > m.watermark.cpu_pct) {
      v.why = FilterVerdict::Why::kCpuOverWatermark;
      v.value = std::llround(cpu_pct);
      v.limit = m.watermark.cpu_pct;
    } else if (sw.check_memory && m.watermark.memory_pct > 0 && mem_pct > m.watermark.memory_pct) {
      v.why = FilterVerdict::Why::kMemoryOverWatermark;
      v.value = std::llround(mem_pct);
      v.limit = m.watermark.memory_pct;
    }
    if (v.why != FilterVerdict::Why::kNone) {
      metrics_->countDecision(Plugin::kSafetyWatermark, Decision::kReject);
      return v;
    }
    metrics_->countDecision(Plugin::kSafetyWatermark, Decision::kPass);
  }
  if (config_.be_fit.enabled && (pod.be_cpu_m > 0 || pod.be_memory_bytes > 0 || pod.ot_cpu_m > 0)) {
    int64_t be_cpu_left = m.be.cpu_m - placed.be_cpu_m;
    int64_t be_mem_left = m.be.memory_bytes - placed.be_memory_bytes;
    FilterVerdict v{FilterVerdict::kFail, Plugin::kBeFit};
    if (pod.be_cpu_m > be_cpu_left) {
      v = {FilterVerdict::kFail, Plugin::kBeFit, FilterVerdict::Why::kBeCpu,
           std::max<int64_t>(be_cpu_left, 0), pod.be_cpu_m};
    } else if (pod.be_memory_bytes > be_mem_left) {
      v = {FilterVerdict::kFail, Plugin::kBeFit, FilterVerdict::Why::kBeMemory,
           std::max<int64_t>(be_mem_left, 0), pod.be_memory_bytes};
    } else if (pod.ot_cpu_m > m.be.ot_cpu_m) {
      v = {FilterVerdict::kFail, Plugin::kBeFit, FilterVerdict::Why::kOtCpu,
           std::max<int64_t>(m.be.ot_cpu_m, 0), pod.ot_cpu_m};
    }
    if (v.why != FilterVerdict::Why::kNone) {
      metrics_->countDecision(Plugin::kBeFit, Decision::kReject);
      return v;
    }
    metrics_->countDecision(Plugin::kBeFit, Decision::kPass);
  }
  return {};
}

Plugins::ScoreRound Plugins::startRound(const PodInfo& pod, const BalanceSums& sums) const {
  const Config& c = config_;
  ScoreRound r;
  r.pod_cpu = podCpuEstimate(pod, c);
  r.pod_mem = podMemoryEstimate(pod, c);
  // The cluster's requests/usage ratio over the nodes of this request with usable metrics.
  r.cluster_ratio = sums.used > 0 ? sums.requests / sums.used : 0;
  r.total_weight = c.load_aware.weight + c.balance.weight + c.cool_down.weight;
  r.now_w = c.load_aware.now_weight / (c.load_aware.now_weight + c.load_aware.peak_weight);
  r.peak_w = 1.0 - r.now_w;
  return r;
}

int64_t Plugins::scoreNode(const PodInfo& pod, ScoreRound& r, const NodeView& n,
                           const Placements::Summary& placed) const {
  const Config& c = config_;
  const bool usable = n.state == MetricsState::kOk;
  ++r.scored;
  double weighted = 0;
  if (c.load_aware.weight > 0) {
    double s = 0.5;
    if (usable) {
      const NodeMetrics& m = n.entry->metrics;
      double cpu_peak = static_cast<double>(m.cpu.peak_m > 0 ? m.cpu.peak_m : m.cpu.used_m);
      double mem_peak =
          static_cast<double>(m.memory.peak_bytes > 0 ? m.memory.peak_bytes : m.memory.used_bytes);
      double cpu = r.now_w * static_cast<double>(m.cpu.used_m) + r.peak_w * cpu_peak +
                   static_cast<double>(placed.cpu_m + r.pod_cpu);
      double mem = r.now_w * static_cast<double>(m.memory.used_bytes) + r.peak_w * mem_peak +
                   static_cast<double>(placed.memory_bytes + r.pod_mem);
      double load = std::max(cpu / static_cast<double>(m.cpu.capacity_m),
                             mem / static_cast<double>(m.memory.capacity_bytes));
      s = std::clamp(1.0 - load, 0.0, 1.0);
      ++r.load_scored;
    }
    weighted += c.load_aware.weight * s;
  }
  if (c.balance.weight > 0) {
    double s = 0.5;
    const NodeMetrics* m = usable ? &n.entry->metrics : nullptr;
    if (m != nullptr && r.cluster_ratio > 0 && m->cpu.requests_m > 0) {
      double used = static_cast<double>(std::max<int64_t>(m->cpu.used_m + placed.cpu_m, 1));
      double ratio =
          static_cast<double>(m->cpu.requests_m + placed.cpu_m + pod.cpu_request_m) / used;
      s = 1.0 / (1.0 + std::fabs(std::log2(ratio / r.cluster_ratio)));
      ++r.balance_scored;
    }
    weighted += c.balance.weight * s;
  }
  if (c.cool_down.weight > 0) {
    double s = std::clamp(1.0 - placed.penalty * c.cool_down.penalty_per_win, 0.0, 1.0);
    weighted += c.cool_down.weight * s;
  }
  int64_t score =
      r.total_weight > 0
          ? roundHalfAway(static_cast<double>(kMaxExtenderPriority) * weighted / r.total_weight)
          : kMaxExtenderPriority / 2;
  return std::clamp<int64_t>(score, 0, kMaxExtenderPriority);
}

void Plugins::finishRound(const PodInfo& pod, const ScoreRound& r, std::span<const NodeView> nodes,
                          size_t best, int64_t now_ms, bool record_winner) const {
  const Config& c = config_;
  // Counted once per request rather than per node.
  if (c.load_aware.weight > 0) {
    metrics_->countDecisions(Plugin::kLoadAware, Decision::kScored, r.load_scored);
    metrics_->countDecisions(Plugin::kLoadAware, Decision::kNeutral, r.scored - r.load_scored);
  }
  if (c.balance.weight > 0) {
    metrics_->countDecisions(Plugin::kBalance, Decision::kScored, r.balance_scored);
    metrics_->countDecisions(Plugin::kBalance, Decision::kNeutral, r.scored - r.balance_scored);
  }
  if (c.cool_down.weight > 0) {
    metrics_->countDecisions(Plugin::kCoolDown, Decision::kScored, r.scored);
  }
  if (record_winner && c.cool_down.weight > 0 && best < nodes.size()) {
    placements_->record(nodes[best],
                        {now_ms, r.pod_cpu, r.pod_mem, pod.be_cpu_m, pod.be_memory_bytes});
    metrics_->cool_down_wins.fetch_add(1, std::memory_order_relaxed);
  }
}

void Plugins::score(const PodInfo& pod, std::span<const NodeView> nodes, int64_t now_ms,
                    std::vector<int64_t>* scores, bool record_winner) const {
  scores->assign(nodes.size(), 0);
  BalanceSums sums;
  if (wantsBalanceSums()) {
    for (const NodeView& n : nodes) {
      sums.add(n);
    }
  }
  ScoreRound round = startRound(pod, sums);
  thread_local std::vector<Placements::Summary> placed_all;  // reused: no allocation per request
  static const Placements::Summary kNothingPlaced{};
  const bool any_placed = placements_->summarizeAny(
      nodes, now_ms, int64_t{config_.cool_down.window_s} * 1000, &placed_all);
  size_t best = nodes.size();
  int64_t best_score = -1;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const int64_t score =
        scoreNode(pod, round, nodes[i], any_placed ? placed_all[i] : kNothingPlaced);
    (*scores)[i] = score;
    if (score > best_score) {
      best_score = score;
      best = i;
    }
  }
  finishRound(pod, round, nodes, best, now_ms, record_winner);
}

}  // namespace colo::extender
