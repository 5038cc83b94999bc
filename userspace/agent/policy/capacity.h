// BE capacity for the scheduler, with every term of the formula kept so an operator can explain
// the number (/v1/node, /metrics):
//   be_cpu_cores  = capacity_cores − safety_margin_cores − ls_usage_peak_cores
//                   − system_usage_peak_cores − lsx_idle_cores            (clamped at 0)
//     safety_margin_cores = capacity_cores × (1 − be_cpu.safety_watermark)
//     lsx_idle_cores      = LSX exclusive CPUs − LSX usage peak (BE can never use them)
//   be_memory_bytes = capacity_bytes − safety_margin_bytes − ls_memory_peak_bytes
//                   − system_memory_peak_bytes                             (clamped at 0)
//     safety_margin_bytes = MemTotal × (1 − capacity.memory_watermark)
//   ot_cpu_millicores = be_cpu_millicores × capacity.ot_ratio
// Peaks are maxima over the last capacity.window_ticks ticks.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "agent/policy/config.h"
#include "agent/policy/pools.h"
#include "agent/policy/snapshot.h"
#include "agent/policy/window.h"

namespace colo::policy {

struct BeCapacity {
  // CPU terms, cores
  double capacity_cores = 0;
  double safety_watermark = 0;
  double safety_margin_cores = 0;
  double ls_usage_cores = 0;       // now
  double ls_usage_peak_cores = 0;  // over the window
  double system_usage_peak_cores = 0;
  double lsx_reserved_cores = 0;
  double lsx_usage_peak_cores = 0;
  double lsx_idle_cores = 0;
  double be_cpu_raw_cores = 0;  // the formula before clamping (may be negative)
  int64_t be_cpu_millicores = 0;
  double ot_ratio = 0;
  int64_t ot_cpu_millicores = 0;
  // memory terms, bytes
  uint64_t capacity_bytes = 0;
  double memory_watermark = 0;
  uint64_t safety_margin_bytes = 0;
  uint64_t ls_memory_peak_bytes = 0;
  uint64_t system_memory_peak_bytes = 0;
  int64_t be_memory_raw_bytes = 0;
  uint64_t be_memory_bytes = 0;
  int window_ticks = 0;  // samples in the peak windows

  nlohmann::json toJson() const;
  // (term, value) pairs for colo_be_capacity_term{term="..."}.
  std::vector<std::pair<std::string, double>> terms() const;
};

class CapacityEstimator {
 public:
  explicit CapacityEstimator(const CapacityConfig& cfg);
  // Adds the snapshot's usage to the windows and recomputes.
  const BeCapacity& update(const NodeSnapshot& snap, const PoolLayout& layout,
                           const PolicyConfig& cfg);
  const BeCapacity& capacity() const { return cap_; }

 private:
  Window ls_cpu_;
  Window lsx_cpu_;
  Window sys_cpu_;
  Window ls_mem_;
  Window sys_mem_;
  BeCapacity cap_;
};

}  // namespace colo::policy
