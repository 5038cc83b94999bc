#include "agent/policy/throttle_relief.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace colo::policy {

void ThrottleRelief::step(const TickInput& in, PlanDraft& draft) {
  const auto& t = in.cfg.throttle_relief;
  generation_++;
  for (const auto& c : in.snap.containers) {
    if (!isLatencySensitive(c.tier) || !c.cpu_limit_cores || *c.cpu_limit_cores <= 0) {
      continue;
    }
    // Updated in place: rebuilding the map every tick was the largest cost at 200 containers.
    Entry& e = entries_[c.id];
    e.seen = generation_;
    if (!e.active()) {
      e.original_limit = *c.cpu_limit_cores;
    }
    const double limit = e.original_limit;
    bool throttled = c.throttled_ratio >= t.throttled_ratio;
    if (throttled) {
      e.throttled_ticks++;
      e.calm_ticks = 0;
      if (e.throttled_ticks >= t.trigger_ticks) {
        if (t.mode == ReliefMode::kBurst) {
          uint64_t burst = static_cast<uint64_t>(
              std::llround(limit * static_cast<double>(t.period_us) * t.burst_fraction));
          if (e.burst_us != burst) {
            grants_++;
            draft.plan.reasons.push_back(fmt::format(
                "ls-throttle-relief: {} throttled {:.0f}% of periods at limit {:.2f}: burst {} us",
                c.id, c.throttled_ratio * 100, limit, burst));
          }
          e.burst_us = burst;
        } else {
          double cap = std::min(limit * t.max_limit_ratio, static_cast<double>(in.online_cpus));
          double from = e.raised_limit > 0 ? e.raised_limit : limit;
          double raised = std::min(cap, from + limit * t.limit_step_ratio);
          if (raised > from) {
            grants_++;
            draft.plan.reasons.push_back(fmt::format(
                "ls-throttle-relief: {} throttled {:.0f}% of periods: limit {:.2f} → {:.2f} cores",
                c.id, c.throttled_ratio * 100, from, raised));
            e.raised_limit = raised;
          }
        }
      }
    } else {
      e.throttled_ticks = 0;
      if (e.active()) {
        bool calm = c.cpu_usage_cores < t.revert_usage_ratio * limit;
        e.calm_ticks = calm ? e.calm_ticks + 1 : 0;
        if (e.calm_ticks >= t.revert_calm_ticks) {
          reverts_++;
          draft.plan.reasons.push_back(fmt::format(
              "ls-throttle-relief: {} calm {} ticks: relief taken back", c.id, e.calm_ticks));
          e = Entry{};
          e.original_limit = limit;
          e.seen = generation_;
        }
      }
    }
  }
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.seen != generation_; });
  relieved_ = 0;
  for (const auto& [id, e] : entries_) {
    if (e.burst_us > 0) {
      draft.plan.ls_burst_us[id] = e.burst_us;
    }
    if (e.raised_limit > 0) {
      draft.plan.ls_limit_cores[id] = e.raised_limit;
    }
    relieved_ += e.active() ? 1 : 0;
  }
}

nlohmann::json ThrottleRelief::stateJson() const {
  nlohmann::json containers = nlohmann::json::object();
  for (const auto& [id, e] : entries_) {
    if (!e.active() && e.throttled_ticks == 0) {
      continue;
    }
    containers[id] = {{"throttled_ticks", e.throttled_ticks},
                      {"calm_ticks", e.calm_ticks},
                      {"limit_cores", e.original_limit},
                      {"burst_us", e.burst_us},
                      {"raised_limit_cores", e.raised_limit}};
  }
  return {{"state", state()},
          {"relieved", relieved_},
          {"grants", grants_},
          {"reverts", reverts_},
          {"containers", containers}};
}

std::vector<std::pair<std::string, double>> ThrottleRelief::gauges() const {
  return {{"relieved_containers", relieved_},
          {"grants_total", static_cast<double>(grants_)},
          {"reverts_total", static_cast<double>(reverts_)}};
}

}  // namespace colo::policy
