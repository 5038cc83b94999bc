// NodeMetrics: the node-metrics document colod publishes as the Node annotation
// `colo.io/node-metrics` and colo-extender consumes. Schema and units: docs/node-metrics.md.
// One C++ type on both sides, so the two cannot drift apart.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace colo {

inline constexpr std::string_view kNodeMetricsAnnotation = "colo.io/node-metrics";
// Version of the schema this code writes; decode() accepts every version up to this one.
inline constexpr int kNodeMetricsVersion = 1;

struct NodeMetrics {
  int version = kNodeMetricsVersion;
  int64_t timestamp_ms = 0;  // unix time of the measurement, milliseconds
  int window_s = 0;          // length of the window behind the *_avg/*_peak figures, seconds

  struct Cpu {
    int64_t capacity_m = 0;  // allocatable CPU, millicores
    int64_t used_m = 0;      // usage over the last tick, millicores
    int64_t avg_m = 0;       // mean usage over the window, millicores
    int64_t peak_m = 0;      // p95 over the window / predicted peak, millicores
    int64_t requests_m = 0;  // sum of CPU requests of the pods on the node, millicores
    bool operator==(const Cpu&) const = default;
  } cpu;
  struct Memory {
    int64_t capacity_bytes = 0;
    int64_t used_bytes = 0;
    int64_t avg_bytes = 0;
    int64_t peak_bytes = 0;
    bool operator==(const Memory&) const = default;
  } memory;
  struct Ls {
    int64_t runq_p99_us = 0;    // p99 run-queue delay of LS tiers over the window, microseconds
    bool guard_active = false;  // the latency guard is squeezing BE right now
    bool operator==(const Ls&) const = default;
  } ls;
  struct Be {
    int64_t cpu_m = 0;         // colo.io/be-cpu left, millicores
    int64_t memory_bytes = 0;  // colo.io/be-memory left, bytes
    int64_t ot_cpu_m = 0;      // colo.io/ot-cpu left, millicores
    bool operator==(const Be&) const = default;
  } be;
  struct Watermark {
    int cpu_pct = 0;  // safety watermark: usage above this % of capacity is unsafe for LS
    int memory_pct = 0;
    bool operator==(const Watermark&) const = default;
  } watermark;

  bool operator==(const NodeMetrics&) const = default;
};

// Compact JSON (no spaces), stable key order.
std::string encodeNodeMetrics(const NodeMetrics& m);
// Parses a document. Unknown keys are ignored (forward compatible); missing required keys, wrong
// types, negative capacities, a version newer than kNodeMetricsVersion or garbage are errors whose
// message names the offending key. Thread-safe.
Result<NodeMetrics> decodeNodeMetrics(std::string_view json);

}  // namespace colo
