#include "agent/policy/capacity.h"

#include <algorithm>
#include <cmath>

namespace colo::policy {

CapacityEstimator::CapacityEstimator(const CapacityConfig& cfg)
    : ls_cpu_(static_cast<size_t>(cfg.window_ticks)),
      lsx_cpu_(static_cast<size_t>(cfg.window_ticks)),
      sys_cpu_(static_cast<size_t>(cfg.window_ticks)),
      ls_mem_(static_cast<size_t>(cfg.window_ticks)),
      sys_mem_(static_cast<size_t>(cfg.window_ticks)) {}

const BeCapacity& CapacityEstimator::update(const NodeSnapshot& snap, const PoolLayout& layout,
                                            const PolicyConfig& cfg) {
  double ls = 0;
  double lsx = 0;
  uint64_t ls_mem = 0;
  uint64_t all_mem = 0;
  for (const auto& c : snap.containers) {
    all_mem += c.memory_usage_bytes;
    if (!isLatencySensitive(c.tier)) {
      continue;
    }
    ls += c.cpu_usage_cores;
    ls_mem += c.memory_usage_bytes;
    if (c.tier == Tier::kLSX) {
      lsx += c.cpu_usage_cores;
    }
  }
  uint64_t used = snap.memory_total_bytes > snap.memory_available_bytes
                      ? snap.memory_total_bytes - snap.memory_available_bytes
                      : 0;
  uint64_t sys_mem = used > all_mem ? used - all_mem : 0;
  ls_cpu_.push(ls);
  lsx_cpu_.push(lsx);
  sys_cpu_.push(snap.system_cpu_usage_cores);
  ls_mem_.push(static_cast<double>(ls_mem));
  sys_mem_.push(static_cast<double>(sys_mem));

  BeCapacity c;
  c.window_ticks = static_cast<int>(ls_cpu_.size());
  c.capacity_cores = static_cast<double>(snap.online_cpus.size());
  c.safety_watermark = cfg.be_cpu.safety_watermark;
  c.safety_margin_cores = c.capacity_cores * (1 - c.safety_watermark);
  c.ls_usage_cores = ls;
  c.ls_usage_peak_cores = ls_cpu_.max();
  c.system_usage_peak_cores = sys_cpu_.max();
  c.lsx_reserved_cores = static_cast<double>(layout.pools.lsx.size());
  c.lsx_usage_peak_cores = lsx_cpu_.max();
  c.lsx_idle_cores = std::max(0.0, c.lsx_reserved_cores - c.lsx_usage_peak_cores);
  c.be_cpu_raw_cores = c.capacity_cores - c.safety_margin_cores - c.ls_usage_peak_cores -
                       c.system_usage_peak_cores - c.lsx_idle_cores;
  c.be_cpu_millicores =
      static_cast<int64_t>(std::floor(std::max(0.0, c.be_cpu_raw_cores) * 1000 + 1e-6));
  c.ot_ratio = cfg.capacity.ot_ratio;
  c.ot_cpu_millicores =
      static_cast<int64_t>(std::floor(static_cast<double>(c.be_cpu_millicores) * c.ot_ratio));

  c.capacity_bytes = snap.memory_total_bytes;
  c.memory_watermark = cfg.capacity.memory_watermark;
  c.safety_margin_bytes = static_cast<uint64_t>(
      std::llround(static_cast<double>(c.capacity_bytes) * (1 - c.memory_watermark)));
  c.ls_memory_peak_bytes = static_cast<uint64_t>(ls_mem_.max());
  c.system_memory_peak_bytes = static_cast<uint64_t>(sys_mem_.max());
  c.be_memory_raw_bytes = static_cast<int64_t>(c.capacity_bytes) -
                          static_cast<int64_t>(c.safety_margin_bytes) -
                          static_cast<int64_t>(c.ls_memory_peak_bytes) -
                          static_cast<int64_t>(c.system_memory_peak_bytes);
  c.be_memory_bytes = c.be_memory_raw_bytes > 0 ? static_cast<uint64_t>(c.be_memory_raw_bytes) : 0;
  cap_ = c;
  return cap_;
}

std::vector<std::pair<std::string, double>> BeCapacity::terms() const {
  return {
      {"capacity_cores", capacity_cores},
      {"safety_watermark", safety_watermark},
      {"safety_margin_cores", safety_margin_cores},
      {"ls_usage_cores", ls_usage_cores},
      {"ls_usage_peak_cores", ls_usage_peak_cores},
      {"system_usage_peak_cores", system_usage_peak_cores},
      {"lsx_reserved_cores", lsx_reserved_cores},
      {"lsx_usage_peak_cores", lsx_usage_peak_cores},
      {"lsx_idle_cores", lsx_idle_cores},
      {"be_cpu_raw_cores", be_cpu_raw_cores},
      {"ot_ratio", ot_ratio},
      {"capacity_bytes", static_cast<double>(capacity_bytes)},
      {"memory_watermark", memory_watermark},
      {"safety_margin_bytes", static_cast<double>(safety_margin_bytes)},
      {"ls_memory_peak_bytes", static_cast<double>(ls_memory_peak_bytes)},
      {"system_memory_peak_bytes", static_cast<double>(system_memory_peak_bytes)},
      {"be_memory_raw_bytes", static_cast<double>(be_memory_raw_bytes)},
      {"window_ticks", static_cast<double>(window_ticks)},
  };
}

nlohmann::json BeCapacity::toJson() const {
  nlohmann::json terms_json = nlohmann::json::object();
  for (const auto& [k, v] : terms()) {
    terms_json[k] = v;
  }
  return {{"be_cpu_millicores", be_cpu_millicores},
          {"be_memory_bytes", be_memory_bytes},
          {"ot_cpu_millicores", ot_cpu_millicores},
          {"formula",
           {{"be_cpu",
             "capacity_cores - safety_margin_cores - ls_usage_peak_cores - "
             "system_usage_peak_cores - lsx_idle_cores"},
            {"be_memory",
             "capacity_bytes - safety_margin_bytes - ls_memory_peak_bytes - "
             "system_memory_peak_bytes"},
            {"ot_cpu", "be_cpu_millicores * ot_ratio"}}},
          {"terms", terms_json}};
}

}  // namespace colo::policy
