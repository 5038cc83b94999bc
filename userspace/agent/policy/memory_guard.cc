#include "agent/policy/memory_guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace colo::policy {

void BeMemoryGuard::step(const TickInput& in, PlanDraft& draft) {
  const auto& m = in.cfg.memory_guard;
  const auto& s = in.snap;
  const double total = static_cast<double>(s.memory_total_bytes);
  free_ratio_ = total > 0 ? static_cast<double>(s.memory_available_bytes) / total : 1;
  bool psi_high = s.memory_psi_some_avg10 && *s.memory_psi_some_avg10 >= m.psi_some_threshold;
  pressure_ = psi_high || free_ratio_ < m.free_watermark;
  bool calm = !psi_high && free_ratio_ >= m.release_free_watermark;

  auto before = cap_;
  if (pressure_) {
    calm_ticks_ = 0;
    double deficit =
        std::max(0.0, m.free_watermark * total - static_cast<double>(s.memory_available_bytes));
    double want = static_cast<double>(in.be_memory_bytes) * (1 - m.squeeze_ratio) - deficit;
    uint64_t cap = static_cast<uint64_t>(std::max(static_cast<double>(m.min_be_bytes), want));
    cap_ = cap_ ? std::min(*cap_, cap) : cap;
    state_ = "capping";
    if (!before) {
      caps_++;
    }
  } else if (calm && cap_) {
    calm_ticks_++;
    state_ = "holding";
    if (calm_ticks_ >= m.release_hold_ticks) {
      state_ = "releasing";
      double next = static_cast<double>(*cap_) + m.release_step_ratio * total;
      if (next >= total) {
        cap_.reset();
        releases_++;
        state_ = "idle";
      } else {
        cap_ = static_cast<uint64_t>(next);
      }
    }
  } else if (cap_) {
    calm_ticks_ = 0;
    state_ = "holding";
  }
  if (before != cap_) {
    auto show = [](const std::optional<uint64_t>& v) {
      return v ? fmt::format("{} MiB", *v >> 20) : std::string("none");
    };
    draft.plan.reasons.push_back(fmt::format(
        "be-memory-guard: available {:.1f}%{}: BE memory cap {} → {}", free_ratio_ * 100,
        s.memory_psi_some_avg10 ? fmt::format(", PSI some {:.1f}", *s.memory_psi_some_avg10)
                                : std::string(),
        show(before), show(cap_)));
  }
  draft.plan.be_memory_high_bytes = cap_;
}

nlohmann::json BeMemoryGuard::stateJson() const {
  return {{"state", state_},
          {"pressure", pressure_},
          {"available_ratio", free_ratio_},
          {"cap_bytes", cap_ ? nlohmann::json(*cap_) : nlohmann::json()},
          {"calm_ticks", calm_ticks_},
          {"caps", caps_},
          {"releases", releases_}};
}

std::vector<std::pair<std::string, double>> BeMemoryGuard::gauges() const {
  return {{"cap_bytes", cap_ ? static_cast<double>(*cap_) : -1.0},
          {"pressure", pressure_ ? 1.0 : 0.0},
          {"caps_total", static_cast<double>(caps_)},
          {"releases_total", static_cast<double>(releases_)}};
}

}  // namespace colo::policy
