// The extender's view of a pod and of a candidate node, parsed from kube-scheduler's
// ExtenderArgs (and, for nodes, from the node cache or the Node objects in the request).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/node_metrics.h"

namespace colo::extender {

enum class Tier { kLSX, kLSR, kLS, kBE };
std::string_view tierName(Tier t);

struct PodInfo {
  std::string ns, name, uid;
  Tier tier = Tier::kLS;
  // Effective requests: max(sum over containers, any init container), limits where a request is
  // absent (as Kubernetes defaults them).
  int64_t cpu_request_m = 0;
  int64_t memory_request_bytes = 0;
  int64_t be_cpu_m = 0;           // colo.io/be-cpu (the quantity is millicores)
  int64_t be_memory_bytes = 0;    // colo.io/be-memory
  int64_t ot_cpu_m = 0;           // colo.io/ot-cpu
  bool wants_colocation = false;  // requests any colo.io/be-* or colo.io/ot-* resource
};

enum class MetricsState { kOk, kMissing, kStale, kGarbled };
std::string_view metricsStateName(MetricsState s);

class NodePlacements;  // placements.h

// What the extender knows about one node, decoded once (per watch event, or per request in
// Nodes mode). Immutable once shared between threads.
struct NodeEntry {
  std::string name;
  // In the node cache: the node's cool-down state, set by the cache (Placements::link) before the
  // entry is shared and valid while the entry is in the cache; what it points to is guarded by
  // the Placements' mutex. Null elsewhere (Nodes mode): the state is then looked up by name.
  // Next to the name, which a lookup reads anyway.
  NodePlacements* placements = nullptr;
  bool colocation_open = false;  // carries the colocation label
  bool has_metrics = false;      // annotation present and decoded
  NodeMetrics metrics;
  std::string metrics_error;  // why the annotation could not be used ("" when fine or absent)
};

// Candidate node of one request, with the freshness verdict of this moment.
struct NodeView {
  std::string_view name;
  const NodeEntry* entry = nullptr;  // null: unknown to the cache
  MetricsState state = MetricsState::kMissing;
  std::string_view raw_json;  // Nodes mode: the Node object as received
};

}  // namespace colo::extender
