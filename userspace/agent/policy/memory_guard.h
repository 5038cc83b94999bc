// BeMemoryGuard: caps BE memory (memory.high on v2, the v1 soft limit) under node memory
// pressure and releases the cap when the pressure ends.
//   pressure: PSI some avg10 >= psi_some_threshold, or MemAvailable/MemTotal < free_watermark
//   cap = max(min_be_bytes, min(previous cap, BE usage × (1 − squeeze_ratio) − deficit))
//         deficit = free_watermark × MemTotal − MemAvailable (>= 0)
//   calm: PSI under the threshold (or absent) and MemAvailable/MemTotal >= release_free_watermark
// After release_hold_ticks calm ticks the cap rises by release_step_ratio × MemTotal per tick;
// once it reaches MemTotal it is removed.
#pragma once

#include <optional>

#include "agent/policy/controller.h"

namespace colo::policy {

class BeMemoryGuard final : public Controller {
 public:
  std::string_view name() const override { return "be-memory-guard"; }
  std::string_view state() const override { return state_; }
  nlohmann::json stateJson() const override;
  std::vector<std::pair<std::string, double>> gauges() const override;
  void step(const TickInput& in, PlanDraft& draft) override;

 private:
  const char* state_ = "idle";
  std::optional<uint64_t> cap_;
  int calm_ticks_ = 0;
  double free_ratio_ = 1;
  bool pressure_ = false;
  uint64_t caps_ = 0;
  uint64_t releases_ = 0;
};

}  // namespace colo::policy
