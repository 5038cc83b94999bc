// BeCpuSuppression: sizes the BE cpuset (and, if configured, a BE quota) from what LS and the
// system leave under the safety watermark:
//   budget = online_cpus × safety_watermark − LS usage − system usage   (cores)
//   target = clamp(floor(budget), min_cpus, candidates)            budget mode
//   target = candidates while budget >= 0, else as in budget mode  idle mode (BE is SCHED_IDLE)
// It shrinks to the target at once and grows back by at most grow_step_cpus per tick.
#pragma once

#include "agent/policy/controller.h"

namespace colo::policy {

class BeCpuSuppression final : public Controller {
 public:
  std::string_view name() const override { return "be-cpu-suppression"; }
  std::string_view state() const override { return state_; }
  nlohmann::json stateJson() const override;
  std::vector<std::pair<std::string, double>> gauges() const override;
  void step(const TickInput& in, PlanDraft& draft) override;

  double budgetCores() const { return budget_cores_; }
  int currentCpus() const { return current_cpus_; }

 private:
  const char* state_ = "idle";
  BeCpuMode mode_ = BeCpuMode::kBudget;  // the mode in force (auto resolved)
  bool idle_open_ = false;               // idle mode, under the watermark
  double budget_cores_ = 0;
  int target_cpus_ = 0;
  int current_cpus_ = -1;  // -1 until the first tick
  int max_cpus_ = 0;
  double quota_target_ = 0;
  double quota_current_ = -1;
};

}  // namespace colo::policy
