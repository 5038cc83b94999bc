// The placement plugins. Filters decide per node (pass, fail, fail-unresolvable); scorers give
// each node 0..1 and Plugins::score combines them into kube-scheduler's 0..10.
// docs/extender.md explains each plugin and its configuration.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "extender/config.h"
#include "extender/metrics.h"
#include "extender/placements.h"
#include "extender/types.h"

namespace colo::extender {

inline constexpr int64_t kMaxExtenderPriority = 10;

// std::llround(x), without the libm call for 0 <= x < 2^52 (the scores): halves round away from
// zero.
int64_t roundHalfAway(double x);

// A filter decision. The reason text is produced on demand (appendReason) so that a request
// failing thousands of nodes costs no allocation per node.
struct FilterVerdict {
  enum Kind { kPass, kFail, kUnresolvable } kind = kPass;
  Plugin plugin = Plugin::kCount;
  enum class Why {
    kNone,
    kNotOpen,           // colocation label missing
    kUnknownNode,       // not in the node cache
    kLatencyGuard,      // value: run-queue p99 us
    kCpuOverWatermark,  // value: usage %, limit: watermark %
    kMemoryOverWatermark,
    kBeCpu,     // value: left (m), limit: requested (m)
    kBeMemory,  // bytes
    kOtCpu,     // m
  } why = Why::kNone;
  int64_t value = 0;
  int64_t limit = 0;

  // Appends the human-readable reason ("colo: node CPU usage 91% is over its safety watermark
  // 85%").
  void appendReason(const Config& config, std::string* out) const;
  // Appends the reason as a JSON string, quotes included, as JsonWriter::str(reason()) would;
  // the reasons with numbers are written escaped directly (no second pass over the text).
  void appendJsonReason(const Config& config, std::string* out) const;
  std::string reason(const Config& config) const {
    std::string s;
    appendReason(config, &s);
    return s;
  }
};

class Plugins {
 public:
  Plugins(const Config& config, ExtenderMetrics* metrics, Placements* placements)
      : config_(config), metrics_(metrics), placements_(placements) {}

  // Classifies the node's metrics at now_ms (ok, missing, stale, garbled), counting and
  // rate-limit logging unusable ones.
  // `name` is for the log line when the entry is null.
  MetricsState classify(const NodeEntry* entry, int64_t now_ms, std::string_view name = {}) const {
    if (entry != nullptr && entry->has_metrics && entry->metrics_error.empty()) {
      const int64_t age_ms = now_ms - entry->metrics.timestamp_ms;
      const int64_t max_ms = int64_t{config_.max_metrics_age_s} * 1000;
      if (age_ms <= max_ms && -age_ms <= max_ms) {
        return MetricsState::kOk;
      }
    }
    return classifyUnusable(entry, now_ms, name);
  }

  // Runs the enabled filters in order; the first failure decides.
  // `placed` is the node's Placements summary (summarizeMany).
  FilterVerdict filter(const PodInfo& pod, const NodeView& node,
                       const Placements::Summary& placed) const;
  // Placements summaries for `nodes` at now_ms, as filter() and score() need them.
  void placedOn(std::span<const NodeView> nodes, int64_t now_ms,
                std::vector<Placements::Summary>* out) const;

  // Scores every node 0..10 into scores (same order). Records the best node as this round's
  // winner for CoolDownHotNode when `record_winner`.
  void score(const PodInfo& pod, std::span<const NodeView> nodes, int64_t now_ms,
             std::vector<int64_t>* scores, bool record_winner = true) const;

  // score() in parts, for a caller that fuses them with its own passes over the nodes (the
  // NodeNames fast path): the same arithmetic in the same order, so the same scores.
  //
  // NodeBalance's cluster ratio: the sums over the request's nodes with usable metrics, added
  // in the nodes' order.
  struct BalanceSums {
    double requests = 0, used = 0;
    void add(const NodeView& n) {
      if (n.state == MetricsState::kOk && n.entry->metrics.cpu.requests_m > 0 &&
          n.entry->metrics.cpu.used_m > 0) {
        requests += static_cast<double>(n.entry->metrics.cpu.requests_m);
        used += static_cast<double>(n.entry->metrics.cpu.used_m);
      }
    }
  };
  // BalanceSums over a part of the nodes, as integers, for a caller that splits the nodes over
  // threads. BalanceSums adds the values as doubles in the nodes' order; while every value and
  // every partial sum stays below 2^53, each of those additions is exact, so its sums are the
  // integer totals, however the nodes were split and in whichever order the parts are added.
  struct ExactBalanceSums {
    static constexpr uint64_t kExact = uint64_t{1} << 53;
    uint64_t requests = 0, used = 0;
    bool big = false;  // a value or a total reached 2^53: get() refuses
    void add(const NodeView& n) {
      if (n.state == MetricsState::kOk && n.entry->metrics.cpu.requests_m > 0 &&
          n.entry->metrics.cpu.used_m > 0) {
        const auto r = static_cast<uint64_t>(n.entry->metrics.cpu.requests_m);
        const auto u = static_cast<uint64_t>(n.entry->metrics.cpu.used_m);
        requests += r;  // cannot wrap before `big` is set: terms and totals below 2^53 until then
        used += u;
        big = big || r >= kExact || u >= kExact || requests >= kExact || used >= kExact;
      }
    }
    void add(const ExactBalanceSums& o) {
      requests += o.big ? 0 : o.requests;
      used += o.big ? 0 : o.used;
      big = big || o.big || requests >= kExact || used >= kExact;
    }
    // The sums BalanceSums would hold after the same nodes; false (out untouched) when not exact:
    // the caller then adds the nodes to a BalanceSums in order.
    bool get(BalanceSums* out) const {
      if (big) {
        return false;
      }
      out->requests = static_cast<double>(requests);
      out->used = static_cast<double>(used);
      return true;
    }
  };
  // What every node's score shares within one request, and the decisions counted so far.
  struct ScoreRound {
    int64_t pod_cpu = 0, pod_mem = 0;
    double cluster_ratio = 0, total_weight = 0, now_w = 0, peak_w = 0;
    uint64_t load_scored = 0, balance_scored = 0, scored = 0;
  };
  // Whether score() needs BalanceSums (NodeBalance is enabled).
  bool wantsBalanceSums() const { return config_.balance.weight > 0; }
  ScoreRound startRound(const PodInfo& pod, const BalanceSums& sums) const;
  // One node's score, 0..10.
  int64_t scoreNode(const PodInfo& pod, ScoreRound& round, const NodeView& n,
                    const Placements::Summary& placed) const;
  // Adds the round's decisions to the metrics; records nodes[best] as the winner for
  // CoolDownHotNode when `record_winner` (best < nodes.size()).
  void finishRound(const PodInfo& pod, const ScoreRound& round, std::span<const NodeView> nodes,
                   size_t best, int64_t now_ms, bool record_winner) const;
  Placements& placements() const { return *placements_; }
  const Config& config() const { return config_; }

 private:
  MetricsState classifyUnusable(const NodeEntry* entry, int64_t now_ms,
                                std::string_view name) const;
  const Config& config_;
  ExtenderMetrics* metrics_;
  Placements* placements_;
};

}  // namespace colo::extender
