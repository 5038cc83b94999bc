#include "agent/policy/freeze.h"

#include <fmt/format.h>

#include <cmath>

namespace colo::policy {

bool FreezeGuard::evaluate(const NodeSnapshot& snap, const FreezeConfig& cfg) {
  std::vector<std::string> why;
  const int64_t max_age_ns = cfg.max_signal_age_ms * 1000000;
  for (const auto& s : snap.signals) {
    if (s.age_ns > max_age_ns) {
      why.push_back(fmt::format("signal {} stale: last read {:.1f}s ago (max {:.1f}s)", s.name,
                                static_cast<double>(s.age_ns) / 1e9,
                                static_cast<double>(max_age_ns) / 1e9));
    }
    if (static_cast<int>(s.consecutive_failures) >= cfg.max_read_failures) {
      why.push_back(
          fmt::format("signal {}: {} reads failed in a row", s.name, s.consecutive_failures));
    }
  }
  if (!snap.cgroupfs_writable) {
    why.push_back(fmt::format("cgroupfs not writable{}{}", snap.cgroupfs_error.empty() ? "" : ": ",
                              snap.cgroupfs_error));
  }
  if (last_now_ns_ != 0 && snap.now_ns < last_now_ns_) {
    why.push_back("snapshot time went backwards");
  }
  if (snap.online_cpus.empty()) {
    why.push_back("snapshot has no online CPUs");
  }
  if (snap.memory_total_bytes == 0) {
    why.push_back("snapshot has no memory total");
  }
  if (!std::isfinite(snap.node_cpu_usage_cores) || snap.node_cpu_usage_cores < 0 ||
      !std::isfinite(snap.system_cpu_usage_cores) || snap.system_cpu_usage_cores < 0) {
    why.push_back("node CPU usage is not a finite non-negative number");
  }
  last_now_ns_ = std::max(last_now_ns_, snap.now_ns);
  resumed_now_ = false;

  if (!why.empty()) {
    if (!frozen_) {
      freezes_++;
      frozen_since_ns_ = snap.now_ns;
    }
    frozen_ = true;
    healthy_ticks_ = 0;
    reasons_ = std::move(why);
    return true;
  }
  if (frozen_) {
    healthy_ticks_++;
    if (healthy_ticks_ < cfg.resume_after_ticks) {
      return true;  // reasons_ keep the last cause until the engine resumes
    }
    frozen_ = false;
    resumed_now_ = true;
    reasons_.clear();
  }
  return false;
}

nlohmann::json FreezeGuard::toJson() const {
  return {{"frozen", frozen_},
          {"reasons", reasons_},
          {"healthy_ticks", healthy_ticks_},
          {"freezes", freezes_},
          {"frozen_since_ns", frozen_ ? nlohmann::json(frozen_since_ns_) : nlohmann::json()}};
}

}  // namespace colo::policy
