// colod's read-only local API (docs/api.md): /healthz, /metrics, /v1/containers.
// The handler runs on the HTTP server's threads and reads only the SnapshotStore, which the tick
// thread swaps atomically under its mutex: handlers never touch the collector.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/snapshot.h"
#include "agent/tiers.h"
#include "common/http.h"

namespace colo::agent {

// The policy side of the API (agent/enforcer.h); each hook is called on the HTTP thread and
// must be thread-safe. Unset hooks (no policy engine) answer 404 / add nothing.
struct PolicyApi {
  std::function<nlohmann::json()> controllers;  // /v1/controllers
  std::function<nlohmann::json()> node;         // /v1/node
  std::function<nlohmann::json()> profiles;     // {"<id>": profile} for /v1/containers
  std::function<std::string()> metrics;         // appended to /metrics
};

// JSON body of GET /v1/containers; `profiles` ({"<id>": {...}}) adds each container's "profile"
// (null when the engine has none yet).
std::string renderContainersJson(const Snapshot& snapshot,
                                 const nlohmann::json* profiles = nullptr);
// Prometheus text format 0.0.4 (HELP and TYPE for every family).
std::string renderMetrics(const Snapshot& snapshot);

// Answers one request from the latest snapshot. `now_ns` is CLOCK_MONOTONIC; /healthz turns 503
// when the snapshot is older than `stale_after_ns`, missing, or carries a health problem.
http::Response handleApiRequest(const SnapshotStore& store, const http::Request& request,
                                int64_t now_ns, int64_t stale_after_ns,
                                const PolicyApi* policy = nullptr);

}  // namespace colo::agent
