// Extender: the HTTP handler behind colo-extender. Routes <prefix>/filter and
// <prefix>/prioritize (kube-scheduler's extender protocol, k8s.io/kube-scheduler/extender/v1),
// /healthz and /metrics. Thread-safe: one instance serves every HTTP worker. A large request's
// candidates are split over the instance's ChunkPool (Config::request_parallelism).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/http.h"
#include "extender/chunk_pool.h"
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

  struct RequestState;  // a serving thread's buffers (extender.cc)

 private:
  // Resolves NodeNames against the cache's index (null: no cache) into ts's views, counting the
  // unknown ones, and classifies each node's metrics at now_ms; fills `sums` when not null (with
  // the sequential path's values), on the lease's threads when it holds any.
  void lookUp(std::span<const std::string_view> names, const NodeCache::Index* index,
              int64_t now_ms, Plugins::BalanceSums* sums, ChunkPool::Lease& lease,
              RequestState& ts);
  // The placement summaries of ts's views into ts.placed, on the lease's threads; false when no
  // placement is kept (every summary zero).
  bool summarizeChunks(ChunkPool::Lease& lease, RequestState& ts, int64_t now_ms);
  // The answers for ts's views, on the lease's threads (the lease holds some).
  void filterChunks(ChunkPool::Lease& lease, RequestState& ts, int64_t now_ms, std::string* out);
  void prioritizeChunks(ChunkPool::Lease& lease, RequestState& ts, const Plugins::BalanceSums& sums,
                        int64_t now_ms, std::string* out);
  // The helpers for a request with n candidates, when it is large enough and they are free.
  ChunkPool::Lease leaseFor(size_t n);
  // Wakes the helpers when a request of body_bytes may be large enough for them (before parsing,
  // so that they are spinning by the time the candidates are known).
  void prepareHelpers(size_t body_bytes);

  Config config_;
  std::string prefix_;
  NodeCache* cache_;
  Clock clock_;
  ExtenderMetrics metrics_;
  Placements own_placements_;  // used without a node cache
  Placements* placements_;     // the cache's, or own_placements_
  Plugins plugins_;
  std::atomic<int64_t> next_prune_ms_{0};
  ChunkPool pool_;  // last: its helpers stop before the members they use go
};

}  // namespace colo::extender
