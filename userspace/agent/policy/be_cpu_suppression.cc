#include "agent/policy/be_cpu_suppression.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace colo::policy {

std::vector<int> PlanDraft::beCandidates(const PoolLayout& layout) const {
  // BE pool first (nobody else wants it), then idle LSR (idle, but taken back at once), then
  // the shared pool, where LS runs: suppression trims from the end of this list.
  std::vector<int> out = layout.pools.be;
  out.insert(out.end(), lsr_lent.begin(), lsr_lent.end());
  out.insert(out.end(), layout.pools.shared.begin(), layout.pools.shared.end());
  return out;
}

void BeCpuSuppression::step(const TickInput& in, PlanDraft& draft) {
  const auto& c = in.cfg.be_cpu;
  budget_cores_ =
      in.online_cpus * c.safety_watermark - in.ls_usage_cores - in.snap.system_cpu_usage_cores;
  max_cpus_ = static_cast<int>(draft.beCandidates(in.layout).size());
  int floor_cpus = std::min(c.min_cpus, max_cpus_);
  mode_ = c.mode == BeCpuMode::kAuto
              ? (in.snap.be_idle_class ? BeCpuMode::kIdle : BeCpuMode::kBudget)
              : c.mode;
  // Idle mode: under the watermark, SCHED_IDLE already keeps BE off the time LS wants, so BE may
  // span every candidate; the latency guard still squeezes it when LS waits behind it anyway.
  idle_open_ = mode_ == BeCpuMode::kIdle && budget_cores_ >= 0;
  int wanted = idle_open_ ? max_cpus_ : static_cast<int>(std::floor(std::max(budget_cores_, 0.0)));
  target_cpus_ = std::clamp(wanted, floor_cpus, std::max(floor_cpus, max_cpus_));

  int before = current_cpus_;
  if (current_cpus_ < 0 || target_cpus_ < current_cpus_) {
    current_cpus_ = target_cpus_;  // LS needs the CPUs now
  } else {
    current_cpus_ = std::min(target_cpus_, current_cpus_ + c.grow_step_cpus);
  }
  if (current_cpus_ < max_cpus_ && current_cpus_ == target_cpus_) {
    state_ = "suppressing";
  } else if (current_cpus_ < target_cpus_) {
    state_ = "growing";
  } else {
    state_ = "open";
  }
  if (before >= 0 && before != current_cpus_) {
    draft.plan.reasons.push_back(fmt::format(
        "be-cpu-suppression ({} mode): budget {:.2f} cores = {} × {:.2f} − LS {:.2f} − system "
        "{:.2f}{}; BE cpus {} → {}",
        beCpuModeName(mode_), budget_cores_, in.online_cpus, c.safety_watermark, in.ls_usage_cores,
        in.snap.system_cpu_usage_cores,
        mode_ != BeCpuMode::kIdle ? ""
        : idle_open_              ? " (under the watermark: BE is SCHED_IDLE, all candidates)"
                                  : " (over the watermark: budget applies)",
        before, current_cpus_));
  }
  draft.be_cpus_budget = current_cpus_;

  if (c.quota_enabled) {
    quota_target_ = idle_open_ ? static_cast<double>(std::max(floor_cpus, max_cpus_))
                               : std::max(budget_cores_, static_cast<double>(floor_cpus));
    if (quota_current_ < 0 || quota_target_ < quota_current_) {
      quota_current_ = quota_target_;
    } else {
      quota_current_ = std::min(quota_target_, quota_current_ + c.quota_grow_step_cores);
    }
    draft.be_quota_cores = quota_current_;
  }
}

nlohmann::json BeCpuSuppression::stateJson() const {
  nlohmann::json j{{"state", state_},
                   {"mode", beCpuModeName(mode_)},
                   {"budget_cores", budget_cores_},
                   {"target_cpus", target_cpus_},
                   {"current_cpus", current_cpus_},
                   {"max_cpus", max_cpus_}};
  if (quota_current_ >= 0) {
    j["quota_target_cores"] = quota_target_;
    j["quota_cores"] = quota_current_;
  }
  return j;
}

std::vector<std::pair<std::string, double>> BeCpuSuppression::gauges() const {
  std::vector<std::pair<std::string, double>> g{{"budget_cores", budget_cores_},
                                                {"target_cpus", target_cpus_},
                                                {"current_cpus", current_cpus_}};
  if (quota_current_ >= 0) {
    g.emplace_back("quota_cores", quota_current_);
  }
  return g;
}

}  // namespace colo::policy
