// colod's read-only local API (docs/api.md): /healthz, /metrics, /v1/containers.
// The handler runs on the HTTP server's threads and reads only the SnapshotStore, which the tick
// thread swaps atomically under its mutex: handlers never touch the collector.
#pragma once

#include <cstdint>
#include <string>

#include "agent/snapshot.h"
#include "agent/tiers.h"
#include "common/http.h"

namespace colo::agent {

// JSON body of GET /v1/containers.
std::string renderContainersJson(const Snapshot& snapshot);
// Prometheus text format 0.0.4 (HELP and TYPE for every family).
std::string renderMetrics(const Snapshot& snapshot);

// Answers one request from the latest snapshot. `now_ns` is CLOCK_MONOTONIC; /healthz turns 503
// when the snapshot is older than `stale_after_ns`, missing, or carries a health problem.
http::Response handleApiRequest(const SnapshotStore& store, const http::Request& request,
                                int64_t now_ns, int64_t stale_after_ns);

}  // namespace colo::agent
