// The placement plugins. Filters decide per node (pass, fail, fail-unresolvable); scorers give
// each node 0..1 and Plugins::score combines them into kube-scheduler's 0..10.
// docs/extender.md explains each plugin and its configuration.
#pragma once

#include <cstdint>
#include <iterator>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "extender/config.h"
#include "extender/metrics.h"
#include "extender/node_cache.h"
#include "extender/types.h"

namespace colo::extender {

inline constexpr int64_t kMaxExtenderPriority = 10;

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
  std::string reason(const Config& config) const {
    std::string s;
    appendReason(config, &s);
    return s;
  }
};

// Pods placed recently, by node: the CoolDownHotNode state. Thread-safe.
//
// A request asks for every candidate node's summary, so each node keeps its placements ordered
// by time and running totals of the usage placed after the last metrics timestamp it was asked
// about: while that timestamp does not change (the node sent no newer report) a summary costs
// O(1) for the usage plus the wins still inside the cool-down window, however many placements
// the node keeps (up to maxMetricsAgeSeconds). A newer report re-sums only the placements after
// it; record() and prune() keep the totals up to date.
class Placements {
 public:
  struct Placement {
    int64_t at_ms;
    int64_t cpu_m;
    int64_t memory_bytes;
    int64_t be_cpu_m;
    int64_t be_memory_bytes;
  };
  void record(std::string_view node, Placement p);
  struct Summary {
    double penalty = 0;  // sum of (1 - age/window) over wins inside the window
    int64_t cpu_m = 0, memory_bytes = 0, be_cpu_m = 0, be_memory_bytes = 0;  // since `since_ms`
  };
  // Wins inside [now - window, now] and the usage placed after since_ms.
  Summary summarize(std::string_view node, int64_t now_ms, int64_t window_ms,
                    int64_t since_ms) const;
  // summarize() for every node under one lock; since_ms is each node's metrics timestamp (now
  // when it has none).
  void summarizeMany(std::span<const NodeView> nodes, int64_t now_ms, int64_t window_ms,
                     std::vector<Summary>* out) const;
  // Drops entries older than keep_ms.
  void prune(int64_t now_ms, int64_t keep_ms);
  // No placement recorded (or all pruned): every summary would be zero.
  bool empty() const {
    std::lock_guard<std::mutex> lock(mu_);
    return by_node_.empty();
  }

  // Most placements kept per node (the oldest go first): bounds memory under a burst.
  static constexpr size_t kMaxPerNode = 4096;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return nameHash(s); }
  };
  struct Usage {
    int64_t cpu_m = 0, memory_bytes = 0, be_cpu_m = 0, be_memory_bytes = 0;
    void add(const Placement& p, int64_t sign) {
      cpu_m += sign * p.cpu_m;
      memory_bytes += sign * p.memory_bytes;
      be_cpu_m += sign * p.be_cpu_m;
      be_memory_bytes += sign * p.be_memory_bytes;
    }
  };
  struct Node {
    // Ordered by at_ms, equal times in recording order; the live entries are placed[head..]
    // (a vector with a moving start: indexing it is cheaper than a deque's).
    std::vector<Placement> placed;
    size_t head = 0;
    // The usage of the placements with at_ms > since_ms (the last since asked about).
    int64_t since_ms = INT64_MIN;
    Usage after_since;
    size_t size() const { return placed.size() - head; }
    bool empty() const { return head == placed.size(); }
    const Placement& front() const { return placed[head]; }
    void popFront() {
      if (front().at_ms > since_ms) {
        after_since.add(front(), -1);
      }
      if (++head == placed.size()) {
        placed.clear();
        head = 0;
      } else if (head >= 64 && head * 2 >= placed.size()) {
        placed.erase(placed.begin(), placed.begin() + static_cast<ptrdiff_t>(head));
        head = 0;
      }
    }
    void summarize(int64_t now_ms, int64_t window_ms, int64_t since_ms, Summary* out);
  };
  mutable std::mutex mu_;
  // Node state changes under a read (the totals follow the timestamp asked about): mutable.
  mutable std::unordered_map<std::string, Node, Hash, std::equal_to<>> by_node_;
};

class Plugins {
 public:
  Plugins(const Config& config, ExtenderMetrics* metrics, Placements* placements)
      : config_(config), metrics_(metrics), placements_(placements) {}

  // Classifies the node's metrics at now_ms (ok, missing, stale, garbled), counting and
  // rate-limit logging unusable ones.
  // `name` is for the log line when the entry is null.
  MetricsState classify(const NodeEntry* entry, int64_t now_ms, std::string_view name = {}) const;

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
  Placements& placements() const { return *placements_; }

 private:
  const Config& config_;
  ExtenderMetrics* metrics_;
  Placements* placements_;
};

}  // namespace colo::extender
