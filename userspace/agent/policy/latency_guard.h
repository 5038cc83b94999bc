// LatencyGuard: puts a ceiling on the BE cpuset when an LS-family tier waits too long to run.
//
// Per tier (LSX, LSR, LS) it keeps a short window of the tick's pressure
//   r = max over the tier's containers of runq_p99_ns / threshold(tier)
// (raised to the worst event delay / threshold when events_to_fire ring-buffer events arrived
// in the tick). The window starts full of zeros.
//   fire:    percentile(window, trigger_percentile) >= 1 and the latest r >= 1
//            (most of the window is over, so one spike does not fire; and the last squeeze has
//            not already fixed it)
//   calm:    percentile(window, 90) < release_ratio
// Fire: limit = max(min_cpus, limit × squeeze_factor) (multiplicative, once per tick).
// Calm for release_hold_ticks ticks: limit += release_step_cpus per calm tick (additive) until
// it reaches the candidates and the guard goes idle. Between the two it holds: the gap between
// "over 1.0" and "under release_ratio" is the hysteresis band.
// onEvent() squeezes between ticks when events_to_fire events arrive within event_window_ms,
// at most once per event_min_interval_ms.
#pragma once

#include <array>
#include <deque>

#include "agent/policy/controller.h"
#include "agent/policy/window.h"

namespace colo::policy {

class LatencyGuard final : public Controller {
 public:
  explicit LatencyGuard(const PolicyConfig& cfg);

  std::string_view name() const override { return "latency-guard"; }
  std::string_view state() const override { return state_; }
  nlohmann::json stateJson() const override;
  std::vector<std::pair<std::string, double>> gauges() const override;
  void step(const TickInput& in, PlanDraft& draft) override;

  // A ring-buffer event. Returns true when it squeezed (the limit changed); `reason` then says
  // why. current_be_cpus: the BE cpuset size in force.
  bool onEvent(const PolicyConfig& cfg, Tier tier, uint64_t delay_ns, int64_t now_ns,
               int current_be_cpus, std::string* reason);
  double limit() const { return limit_; }
  // Drops the pressure history (after a freeze: the samples around it are not trustworthy).
  void resetWindows();

 private:
  static constexpr std::array<Tier, 3> kTiers{Tier::kLSX, Tier::kLSR, Tier::kLS};
  void squeeze(int min_cpus, double factor, int current_be_cpus);

  const char* state_ = "idle";
  std::array<Window, 3> windows_;
  std::array<double, 3> fire_stat_{};
  std::array<double, 3> calm_stat_{};
  double limit_;  // +inf when idle
  int calm_ticks_ = 0;
  uint64_t squeezes_ = 0;
  uint64_t event_squeezes_ = 0;
  uint64_t releases_ = 0;
  std::deque<int64_t> event_times_;
  int64_t last_event_squeeze_ns_ = std::numeric_limits<int64_t>::min();
  std::string last_trigger_;
};

}  // namespace colo::policy
