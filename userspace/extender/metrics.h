// ExtenderMetrics: counters and latency histograms behind /metrics (Prometheus text 0.0.4).
// Every member is an atomic: updated from HTTP workers and the watcher without locks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "extender/types.h"

namespace colo::extender {

enum class Verb { kFilter, kPrioritize, kHealthz, kMetrics, kOther, kCount };
enum class Plugin {
  kSafetyWatermark,
  kColocationGate,
  kBeFit,
  kLoadAware,
  kBalance,
  kCoolDown,
  kCount
};
enum class Decision { kPass, kReject, kUnresolvable, kScored, kNeutral, kCount };

std::string_view pluginName(Plugin p);

class Histogram {
 public:
  static constexpr std::array<int64_t, 13> kBoundsNs = {
      25'000,    50'000,     100'000,    250'000,    500'000,     1'000'000,    2'500'000,
      5'000'000, 10'000'000, 25'000'000, 50'000'000, 100'000'000, 1'000'000'000};
  void observe(int64_t ns);
  // Appends the histogram in Prometheus form, name with labels `labels` ("verb=\"filter\"").
  void render(std::string* out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsNs.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

struct ExtenderMetrics {
  static constexpr std::array<int, 7> kCodes = {200, 400, 404, 405, 413, 500, 503};
  // requests[verb][code index], the last index is "other".
  std::array<std::array<std::atomic<uint64_t>, kCodes.size() + 1>, size_t(Verb::kCount)> requests{};
  std::array<Histogram, 2> latency;  // filter, prioritize
  std::array<std::array<std::atomic<uint64_t>, size_t(Decision::kCount)>, size_t(Plugin::kCount)>
      decisions{};
  // Nodes whose metrics could not be used, by reason (missing, stale, garbled).
  std::array<std::atomic<uint64_t>, 4> unusable_metrics{};
  std::atomic<uint64_t> unknown_nodes{0};  // NodeNames not in the cache
  std::atomic<uint64_t> cool_down_wins{0};
  // Node cache (watch mode).
  std::atomic<uint64_t> watch_events{0};
  std::atomic<uint64_t> watch_restarts{0};
  std::atomic<uint64_t> relists{0};
  std::atomic<uint64_t> watch_errors{0};
  std::atomic<int64_t> cache_nodes{-1};  // -1: no cache (Nodes mode)
  std::atomic<int64_t> cache_synced{0};

  void countRequest(Verb verb, int code);
  // Per-node decisions are tallied per thread (thousands per request) and added to the shared
  // counters by flushDecisions(), once per request.
  void countDecision(Plugin p, Decision d) { tally()[size_t(p)][size_t(d)]++; }
  void countDecisions(Plugin p, Decision d, uint64_t n) { tally()[size_t(p)][size_t(d)] += n; }
  void flushDecisions();
  void countUnusable(MetricsState s) {
    unusable_metrics[size_t(s)].fetch_add(1, std::memory_order_relaxed);
  }
  std::string render() const;

 private:
  using Tally = std::array<std::array<uint64_t, size_t(Decision::kCount)>, size_t(Plugin::kCount)>;
  static Tally& tally() {
    thread_local Tally t{};
    return t;
  }
};

}  // namespace colo::extender
