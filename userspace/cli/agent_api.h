// colod's GET /v1/containers (docs/api.md), parsed into structs. The parser is the boundary where
// nlohmann-json exceptions stop: malformed input becomes an Error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace colo::cli {

struct AgentContainer {
  std::string id;
  std::string name;
  std::string pod_uid;
  std::string qos;
  std::string tier;
  std::string cgroup;
  uint64_t cgroup_id = 0;
  double usage_cores = 0;
  double throttled_pct = 0;
  std::optional<uint64_t> memory_working_set_bytes;  // nullopt: colod has no memory figure
  uint64_t runq_count = 0;
  uint64_t runq_delta_count = 0;
  uint64_t mean_ns = 0;
  uint64_t max_ns = 0;
  uint64_t p50_ns = 0;
  uint64_t p90_ns = 0;
  uint64_t p99_ns = 0;
  std::vector<uint64_t> hist_window;
  uint64_t preemptions = 0;
  uint64_t involuntary_switches = 0;
  uint64_t waited_behind_lower = 0;
  uint64_t waited_behind_lower_delta = 0;
  uint64_t over_threshold = 0;
};

struct AgentSnapshot {
  std::string node;
  int64_t tick_ms = 0;
  int64_t window_ticks = 0;
  int64_t cgroup_version = 0;
  std::string attach_mode;
  std::vector<AgentContainer> containers;
};

// Parses the body of /v1/containers. Missing optional fields keep their defaults; a body that is
// not JSON, or a field of the wrong type, is EINVAL with the reason.
Result<AgentSnapshot> parseContainers(std::string_view body);

}  // namespace colo::cli
