// ThrottleRelief: an LS-family container throttled by its own CPU limit (throttled_ratio over
// the threshold for trigger_ticks ticks) gets
//   burst mode: burst_us = limit × period_us × burst_fraction (cpu.max.burst / cfs_burst_us);
//   limit mode: limit raised by limit_step_ratio × limit per throttled tick, up to
//               max_limit_ratio × limit (and never above the node's online CPUs).
// Relief is taken back after revert_calm_ticks ticks that are not throttled with usage under
// revert_usage_ratio × the original limit. It never evicts anything.
#pragma once

#include <map>

#include "agent/policy/controller.h"

namespace colo::policy {

class ThrottleRelief final : public Controller {
 public:
  std::string_view name() const override { return "ls-throttle-relief"; }
  std::string_view state() const override { return relieved_ > 0 ? "relieving" : "idle"; }
  nlohmann::json stateJson() const override;
  std::vector<std::pair<std::string, double>> gauges() const override;
  void step(const TickInput& in, PlanDraft& draft) override;

 private:
  struct Entry {
    int throttled_ticks = 0;
    int calm_ticks = 0;
    double original_limit = 0;
    uint64_t burst_us = 0;    // granted burst, 0 = none
    double raised_limit = 0;  // granted limit, 0 = none
    uint64_t seen = 0;        // generation of the last snapshot that had the container
    bool active() const { return burst_us > 0 || raised_limit > 0; }
  };
  std::map<std::string, Entry> entries_;
  uint64_t generation_ = 0;
  int relieved_ = 0;
  uint64_t grants_ = 0;
  uint64_t reverts_ = 0;
};

}  // namespace colo::policy
