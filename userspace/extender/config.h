// Extender configuration: plugin switches, weights and thresholds. Loaded from YAML
// (docs/extender.md lists every key); defaults are usable as they are.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>

#include "common/result.h"

namespace colo::extender {

struct Config {
  // A node whose metrics are older than this is scored neutrally and passes the filters.
  int max_metrics_age_s = 60;
  // Node label that opens a node to colocation (value must equal colocation_label_value).
  std::string colocation_label = "colo.io/colocation";
  std::string colocation_label_value = "true";

  // Threads working on one filter or prioritize request (the serving thread included): a
  // request with at least parallel_min_nodes candidates is split into this many contiguous
  // chunks. 1: every request on its serving thread alone.
  int request_parallelism = defaultRequestParallelism();
  int parallel_min_nodes = 1000;
  static int defaultRequestParallelism() {
    return std::clamp(static_cast<int>(std::thread::hardware_concurrency() / 2), 1, 4);
  }
  static constexpr int kMaxRequestParallelism = 64;

  struct SafetyWatermark {
    bool enabled = true;
    bool check_cpu = true;
    bool check_memory = true;
    bool check_latency_guard = true;
  } safety_watermark;
  struct ColocationGate {
    bool enabled = true;
  } colocation_gate;
  struct BeFit {
    bool enabled = true;
  } be_fit;

  // Scorers: weight 0 disables one. Each yields 0..1; the node's score is the weighted mean,
  // scaled to 0..10.
  struct LoadAware {  // NodeInfoRt
    int weight = 3;
    double now_weight = 0.6;   // live usage
    double peak_weight = 0.4;  // profile peak (p95 over the window)
  } load_aware;
  struct Balance {  // NodeBalance
    int weight = 1;
  } balance;
  struct CoolDown {  // CoolDownHotNode
    int weight = 2;
    int window_s = 30;
    double penalty_per_win = 0.5;  // a win this instant costs this much of the 0..1 score
    // Estimated usage of a placed pod without requests.
    int64_t default_pod_cpu_m = 100;
    int64_t default_pod_memory_bytes = 128ll << 20;
  } cool_down;
};

// Parses YAML text; unknown keys are errors naming the key (typos must not pass silently).
// Values out of range are errors naming the key too (validateConfig).
Result<Config> parseConfig(const std::string& yaml_text);
Result<Config> loadConfig(const std::string& path);
// The range checks of parseConfig, for a config changed after parsing (command-line flags).
Status validateConfig(const Config& c);

}  // namespace colo::extender
