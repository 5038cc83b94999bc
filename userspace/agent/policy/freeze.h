// FreezeGuard: decides whether the node looks too abnormal to act on. Frozen, the engine changes
// nothing (onTick returns no plan) and says why; it resumes after resume_after_ticks healthy
// ticks in a row. Abnormal: a signal older than max_signal_age_ms, a signal whose last
// max_read_failures reads failed, cgroupfs not writable, the clock going backwards, or a
// snapshot without CPUs or memory.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/policy/config.h"
#include "agent/policy/snapshot.h"

namespace colo::policy {

class FreezeGuard {
 public:
  // Updates the state from one snapshot; returns true when the engine must not act this tick.
  bool evaluate(const NodeSnapshot& snap, const FreezeConfig& cfg);
  bool frozen() const { return frozen_; }
  // Why the engine is frozen (empty when not). While resuming, the last reasons seen.
  const std::vector<std::string>& reasons() const { return reasons_; }
  // True on the tick the engine leaves the frozen state.
  bool resumedNow() const { return resumed_now_; }
  uint64_t freezes() const { return freezes_; }
  nlohmann::json toJson() const;

 private:
  bool frozen_ = false;
  bool resumed_now_ = false;
  std::vector<std::string> reasons_;
  int healthy_ticks_ = 0;
  uint64_t freezes_ = 0;
  int64_t last_now_ns_ = 0;
  int64_t frozen_since_ns_ = 0;
};

}  // namespace colo::policy
