// Extender: the HTTP handler behind colo-extender. Routes <prefix>/filter and
// <prefix>/prioritize (kube-scheduler's extender protocol, k8s.io/kube-scheduler/extender/v1),
// /healthz and /metrics. Thread-safe: one instance serves every HTTP worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/http.h"
#include "extender/config.h"
#include "extender/metrics.h"
#include "extender/node_cache.h"
#include "extender/plugins.h"

namespace colo::extender {

class Extender {
 public:
  using Clock = std::function<int64_t()>;  // unix time, milliseconds
  static int64_t wallClockMs();

  // `cache` serves NodeNames requests (nodeCacheCapable: true); it may be null when the
  // scheduler sends full Nodes, and then NodeNames requests score every node neutrally.
  Extender(Config config, std::string url_prefix, NodeCache* cache, Clock clock = wallClockMs);

  http::Response handle(const http::Request& request);
  ExtenderMetrics& metrics() { return metrics_; }
  const Config& config() const { return config_; }
  // The CoolDownHotNode state (the benchmark seeds it): the node cache's when there is one.
  Placements& placements() { return *placements_; }

  // The verbs without HTTP, for tests and the in-process benchmark. `body` needs
  // simdjson::SIMDJSON_PADDING readable bytes past its end within `capacity`.
  http::Response filter(std::string_view body, size_t capacity);
  http::Response prioritize(std::string_view body, size_t capacity);

 private:
  // Resolves NodeNames against the cache's index (null: no cache) into views, counting the
  // unknown ones, and classifies each node's metrics at now_ms; adds the nodes to `sums` when not
  // null (in the names' order).
  void lookUp(std::span<const std::string_view> names, const NodeCache::Index* index,
              int64_t now_ms, Plugins::BalanceSums* sums, std::vector<NodeView>* views);

  Config config_;
  std::string prefix_;
  NodeCache* cache_;
  Clock clock_;
  ExtenderMetrics metrics_;
  Placements own_placements_;  // used without a node cache
  Placements* placements_;     // the cache's, or own_placements_
  Plugins plugins_;
  std::atomic<int64_t> next_prune_ms_{0};
};

}  // namespace colo::extender
