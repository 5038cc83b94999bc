#include "agent/policy/latency_guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace colo::policy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

size_t tierIndex(Tier t) {
  switch (t) {
    case Tier::kLSX:
      return 0;
    case Tier::kLSR:
      return 1;
    default:
      return 2;
  }
}

}  // namespace

LatencyGuard::LatencyGuard(const PolicyConfig& cfg) : limit_(kInf) {
  for (auto& w : windows_) {
    w = Window(static_cast<size_t>(cfg.latency_guard.window_ticks));
  }
  resetWindows();
}

void LatencyGuard::resetWindows() {
  // Zeros, not empty: with an empty window a single spike would be "the whole window".
  for (auto& w : windows_) {
    w.clear();
    for (size_t i = 0; i < w.capacity(); ++i) {
      w.push(0);
    }
  }
}

void LatencyGuard::squeeze(int min_cpus, double factor, int current_be_cpus) {
  double base = std::isinf(limit_) ? static_cast<double>(current_be_cpus) : limit_;
  limit_ = std::max(static_cast<double>(min_cpus), std::floor(base * factor));
  calm_ticks_ = 0;
  state_ = "squeezing";
}

void LatencyGuard::step(const TickInput& in, PlanDraft& draft) {
  const auto& g = in.cfg.latency_guard;
  std::array<double, 3> ratio{};
  std::array<double, 3> supplied_fraction{-1, -1, -1};
  for (const auto& c : in.snap.containers) {
    if (!isLatencySensitive(c.tier)) {
      continue;
    }
    size_t i = tierIndex(c.tier);
    double thr = static_cast<double>(in.cfg.thresholdNs(c.tier));
    ratio[i] = std::max(ratio[i], static_cast<double>(c.runq_p99_ns) / thr);
    if (c.runq_over_threshold_fraction) {
      supplied_fraction[i] = std::max(supplied_fraction[i], *c.runq_over_threshold_fraction);
    }
  }
  std::array<int, 3> events{};
  std::array<double, 3> event_ratio{};
  for (const auto& e : in.snap.latency_events) {
    if (!isLatencySensitive(e.tier)) {
      continue;
    }
    size_t i = tierIndex(e.tier);
    double r = static_cast<double>(e.delay_ns) / static_cast<double>(in.cfg.thresholdNs(e.tier));
    if (r >= 1) {
      events[i]++;
      event_ratio[i] = std::max(event_ratio[i], r);
    }
  }

  bool fire = false;
  bool calm = true;
  const double fire_fraction = 1.0 - g.trigger_percentile / 100.0;
  for (size_t i = 0; i < kTiers.size(); ++i) {
    if (events[i] >= g.events_to_fire) {
      ratio[i] = std::max(ratio[i], event_ratio[i]);
    }
    windows_[i].push(ratio[i]);
    fire_stat_[i] = windows_[i].percentile(g.trigger_percentile);
    calm_stat_[i] = windows_[i].percentile(90);
    bool tier_fire = fire_stat_[i] >= 1.0 && ratio[i] >= 1.0;
    bool tier_calm = calm_stat_[i] < g.release_ratio;
    if (supplied_fraction[i] >= 0) {
      // The collector's own count of over-threshold ticks stands in for the window.
      tier_fire = tier_fire || (supplied_fraction[i] >= fire_fraction && ratio[i] >= 1.0);
      tier_calm = tier_calm && supplied_fraction[i] <= 0.1;
    }
    if (tier_fire && !fire) {
      last_trigger_ = fmt::format("{} run-queue p{:.0f} of window {:.2f}× threshold",
                                  tierName(kTiers[i]), g.trigger_percentile, fire_stat_[i]);
    }
    fire = fire || tier_fire;
    calm = calm && tier_calm;
  }

  double before = limit_;
  if (fire) {
    squeeze(in.cfg.be_cpu.min_cpus, g.squeeze_factor, in.current_be_cpus);
    squeezes_++;
  } else if (calm) {
    calm_ticks_++;
    if (!std::isinf(limit_) && calm_ticks_ >= g.release_hold_ticks) {
      limit_ += g.release_step_cpus;
      releases_++;
      state_ = "releasing";
      int candidates = static_cast<int>(draft.beCandidates(in.layout).size());
      if (limit_ >= candidates) {
        limit_ = kInf;
        state_ = "idle";
      }
    } else if (!std::isinf(limit_)) {
      state_ = "holding";
    }
  } else {
    calm_ticks_ = 0;
    if (!std::isinf(limit_)) {
      state_ = "holding";
    }
  }
  if (before != limit_) {
    auto show = [](double v) {
      return std::isinf(v) ? std::string("none") : fmt::format("{:.0f}", v);
    };
    draft.plan.reasons.push_back(fmt::format("latency-guard: {}: BE cpu limit {} → {}",
                                             fire ? last_trigger_ : std::string("calm"),
                                             show(before), show(limit_)));
  }
  draft.be_cpus_guard_limit = limit_;
}

bool LatencyGuard::onEvent(const PolicyConfig& cfg, Tier tier, uint64_t delay_ns, int64_t now_ns,
                           int current_be_cpus, std::string* reason) {
  const auto& g = cfg.latency_guard;
  if (!isLatencySensitive(tier) || delay_ns < cfg.thresholdNs(tier)) {
    return false;
  }
  const int64_t window_ns = g.event_window_ms * 1000000;
  event_times_.push_back(now_ns);
  while (!event_times_.empty() && event_times_.front() <= now_ns - window_ns) {
    event_times_.pop_front();
  }
  if (static_cast<int>(event_times_.size()) < g.events_to_fire) {
    return false;
  }
  if (last_event_squeeze_ns_ != std::numeric_limits<int64_t>::min() &&
      now_ns - last_event_squeeze_ns_ < g.event_min_interval_ms * 1000000) {
    return false;
  }
  double before = limit_;
  squeeze(cfg.be_cpu.min_cpus, g.squeeze_factor, current_be_cpus);
  last_event_squeeze_ns_ = now_ns;
  event_times_.clear();
  event_squeezes_++;
  last_trigger_ = fmt::format("{} ring-buffer events within {} ms (last {} {} us)",
                              g.events_to_fire, g.event_window_ms, tierName(tier), delay_ns / 1000);
  if (limit_ == before) {
    return false;
  }
  if (reason != nullptr) {
    *reason = fmt::format("latency-guard: {}: BE cpu limit {} → {:.0f}", last_trigger_,
                          std::isinf(before) ? std::string("none") : fmt::format("{:.0f}", before),
                          limit_);
  }
  return true;
}

nlohmann::json LatencyGuard::stateJson() const {
  nlohmann::json tiers = nlohmann::json::object();
  for (size_t i = 0; i < kTiers.size(); ++i) {
    tiers[tierName(kTiers[i])] = {{"last_ratio", windows_[i].last()},
                                  {"trigger_stat", fire_stat_[i]},
                                  {"calm_stat_p90", calm_stat_[i]}};
  }
  nlohmann::json j{{"state", state_},
                   {"limit_cpus", std::isinf(limit_) ? nlohmann::json() : nlohmann::json(limit_)},
                   {"calm_ticks", calm_ticks_},
                   {"squeezes", squeezes_},
                   {"event_squeezes", event_squeezes_},
                   {"releases", releases_},
                   {"last_trigger", last_trigger_},
                   {"tiers", tiers}};
  return j;
}

std::vector<std::pair<std::string, double>> LatencyGuard::gauges() const {
  return {{"limit_cpus", std::isinf(limit_) ? -1.0 : limit_},
          {"squeezes_total", static_cast<double>(squeezes_)},
          {"event_squeezes_total", static_cast<double>(event_squeezes_)},
          {"releases_total", static_cast<double>(releases_)}};
}

}  // namespace colo::policy
