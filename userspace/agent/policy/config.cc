#include "agent/policy/config.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <set>
#include <variant>

namespace colo::policy {
namespace {

using KnobRef = std::variant<double*, int*, int64_t*, uint64_t*, bool*, ReliefMode*, BeCpuMode*>;

// One list of every knob, so toJson, fromJson and validate cannot drift apart.
template <typename Fn>
void forEachKnob(PolicyConfig& c, Fn&& fn) {
  fn("pools", "be_dedicated_cpus", KnobRef(&c.pools.be_dedicated_cpus));
  fn("pools", "min_shared_cpus", KnobRef(&c.pools.min_shared_cpus));
  fn("pools", "lsx_default_cpus", KnobRef(&c.pools.lsx_default_cpus));
  fn("pools", "lsr_default_cpus", KnobRef(&c.pools.lsr_default_cpus));
  fn("pools", "lsr_idle_ratio", KnobRef(&c.pools.lsr_idle_ratio));
  fn("pools", "lsr_idle_ticks", KnobRef(&c.pools.lsr_idle_ticks));

  fn("be_cpu", "mode", KnobRef(&c.be_cpu.mode));
  fn("be_cpu", "safety_watermark", KnobRef(&c.be_cpu.safety_watermark));
  fn("be_cpu", "min_cpus", KnobRef(&c.be_cpu.min_cpus));
  fn("be_cpu", "grow_step_cpus", KnobRef(&c.be_cpu.grow_step_cpus));
  fn("be_cpu", "quota_enabled", KnobRef(&c.be_cpu.quota_enabled));
  fn("be_cpu", "quota_grow_step_cores", KnobRef(&c.be_cpu.quota_grow_step_cores));
  fn("be_cpu", "task_slice_us", KnobRef(&c.be_cpu.task_slice_us));

  auto& g = c.latency_guard;
  fn("latency_guard", "threshold_us_lsx", KnobRef(&g.threshold_us_lsx));
  fn("latency_guard", "threshold_us_lsr", KnobRef(&g.threshold_us_lsr));
  fn("latency_guard", "threshold_us_ls", KnobRef(&g.threshold_us_ls));
  fn("latency_guard", "window_ticks", KnobRef(&g.window_ticks));
  fn("latency_guard", "trigger_percentile", KnobRef(&g.trigger_percentile));
  fn("latency_guard", "release_ratio", KnobRef(&g.release_ratio));
  fn("latency_guard", "release_hold_ticks", KnobRef(&g.release_hold_ticks));
  fn("latency_guard", "squeeze_factor", KnobRef(&g.squeeze_factor));
  fn("latency_guard", "release_step_cpus", KnobRef(&g.release_step_cpus));
  fn("latency_guard", "events_to_fire", KnobRef(&g.events_to_fire));
  fn("latency_guard", "event_window_ms", KnobRef(&g.event_window_ms));
  fn("latency_guard", "event_min_interval_ms", KnobRef(&g.event_min_interval_ms));

  auto& t = c.throttle_relief;
  fn("throttle_relief", "mode", KnobRef(&t.mode));
  fn("throttle_relief", "throttled_ratio", KnobRef(&t.throttled_ratio));
  fn("throttle_relief", "trigger_ticks", KnobRef(&t.trigger_ticks));
  fn("throttle_relief", "burst_fraction", KnobRef(&t.burst_fraction));
  fn("throttle_relief", "limit_step_ratio", KnobRef(&t.limit_step_ratio));
  fn("throttle_relief", "max_limit_ratio", KnobRef(&t.max_limit_ratio));
  fn("throttle_relief", "revert_calm_ticks", KnobRef(&t.revert_calm_ticks));
  fn("throttle_relief", "revert_usage_ratio", KnobRef(&t.revert_usage_ratio));
  fn("throttle_relief", "period_us", KnobRef(&t.period_us));

  auto& m = c.memory_guard;
  fn("memory_guard", "psi_some_threshold", KnobRef(&m.psi_some_threshold));
  fn("memory_guard", "free_watermark", KnobRef(&m.free_watermark));
  fn("memory_guard", "release_free_watermark", KnobRef(&m.release_free_watermark));
  fn("memory_guard", "min_be_bytes", KnobRef(&m.min_be_bytes));
  fn("memory_guard", "release_hold_ticks", KnobRef(&m.release_hold_ticks));
  fn("memory_guard", "release_step_ratio", KnobRef(&m.release_step_ratio));
  fn("memory_guard", "squeeze_ratio", KnobRef(&m.squeeze_ratio));

  fn("freeze", "max_signal_age_ms", KnobRef(&c.freeze.max_signal_age_ms));
  fn("freeze", "max_read_failures", KnobRef(&c.freeze.max_read_failures));
  fn("freeze", "resume_after_ticks", KnobRef(&c.freeze.resume_after_ticks));

  fn("capacity", "window_ticks", KnobRef(&c.capacity.window_ticks));
  fn("capacity", "memory_watermark", KnobRef(&c.capacity.memory_watermark));
  fn("capacity", "ot_ratio", KnobRef(&c.capacity.ot_ratio));

  fn("profile", "window_ticks", KnobRef(&c.profile.window_ticks));
  fn("profile", "periodic_percentile", KnobRef(&c.profile.periodic_percentile));
  fn("profile", "ewma_alpha", KnobRef(&c.profile.ewma_alpha));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

// Reads a string knob naming one of `names` (case-insensitive); the error lists them.
template <typename E>
Status readEnum(const nlohmann::json& v, const std::string& key, E* out,
                std::initializer_list<std::pair<std::string_view, E>> names) {
  std::string want;
  for (const auto& [name, value] : names) {
    want += fmt::format("{}\"{}\"", want.empty() ? "" : " or ", name);
  }
  if (v.is_string()) {
    auto s = lower(v.get<std::string>());
    for (const auto& [name, value] : names) {
      if (s == name) {
        *out = value;
        return ok();
      }
    }
  }
  return failInvalid(fmt::format("{}: expected {}, got {}", key, want, v.dump()));
}

// Reads one knob from JSON; throws nothing (nlohmann's get<> would), returns an error naming
// the key instead.
Status readKnob(const nlohmann::json& v, const std::string& key, KnobRef ref) {
  auto type_error = [&](std::string_view want) {
    return failInvalid(fmt::format("{}: expected {}, got {}", key, want, v.dump()));
  };
  return std::visit(
      [&](auto* p) -> Status {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, bool>) {
          if (!v.is_boolean()) {
            return type_error("true or false");
          }
          *p = v.get<bool>();
        } else if constexpr (std::is_same_v<T, ReliefMode>) {
          return readEnum(v, key, p,
                          {{"burst", ReliefMode::kBurst}, {"limit", ReliefMode::kLimit}});
        } else if constexpr (std::is_same_v<T, BeCpuMode>) {
          return readEnum(v, key, p,
                          {{"auto", BeCpuMode::kAuto},
                           {"budget", BeCpuMode::kBudget},
                           {"idle", BeCpuMode::kIdle}});
        } else if constexpr (std::is_same_v<T, double>) {
          if (!v.is_number()) {
            return type_error("a number");
          }
          *p = v.get<double>();
        } else {
          // Integers: accept 3 and 3.0, refuse 3.5 and negatives for unsigned knobs.
          if (!v.is_number()) {
            return type_error("an integer");
          }
          double d = v.get<double>();
          if (d != std::floor(d) || (std::is_unsigned_v<T> && d < 0)) {
            return type_error(std::is_unsigned_v<T> ? "a non-negative integer" : "an integer");
          }
          if (v.is_number_unsigned()) {
            *p = static_cast<T>(v.get<uint64_t>());
          } else if (v.is_number_integer()) {
            *p = static_cast<T>(v.get<int64_t>());
          } else {
            *p = static_cast<T>(d);
          }
        }
        return ok();
      },
      ref);
}

Status inRange(std::string_view key, double v, double lo, double hi, bool lo_open = false) {
  bool bad = std::isnan(v) || v > hi || (lo_open ? v <= lo : v < lo);
  if (bad) {
    return failInvalid(
        fmt::format("{}: must be in {}{}, {}], got {}", key, lo_open ? "(" : "[", lo, hi, v));
  }
  return ok();
}

Status atLeast(std::string_view key, double v, double lo) {
  if (std::isnan(v) || v < lo) {
    return failInvalid(fmt::format("{}: must be >= {}, got {}", key, lo, v));
  }
  return ok();
}

}  // namespace

const char* reliefModeName(ReliefMode mode) {
  return mode == ReliefMode::kBurst ? "burst" : "limit";
}

const char* beCpuModeName(BeCpuMode mode) {
  switch (mode) {
    case BeCpuMode::kBudget:
      return "budget";
    case BeCpuMode::kIdle:
      return "idle";
    case BeCpuMode::kAuto:
      break;
  }
  return "auto";
}

uint64_t PolicyConfig::thresholdNs(Tier tier) const {
  switch (tier) {
    case Tier::kLSX:
      return static_cast<uint64_t>(latency_guard.threshold_us_lsx) * 1000;
    case Tier::kLSR:
      return static_cast<uint64_t>(latency_guard.threshold_us_lsr) * 1000;
    case Tier::kLS:
      return static_cast<uint64_t>(latency_guard.threshold_us_ls) * 1000;
    case Tier::kBE:
      return 0;
  }
  return 0;
}

Status PolicyConfig::validate() const {
  const double kBig = 1e12;
  Status checks[] = {
      atLeast("pools.be_dedicated_cpus", pools.be_dedicated_cpus, 0),
      atLeast("pools.min_shared_cpus", pools.min_shared_cpus, 1),
      inRange("pools.lsx_default_cpus", pools.lsx_default_cpus, 0, kBig, true),
      inRange("pools.lsr_default_cpus", pools.lsr_default_cpus, 0, kBig, true),
      inRange("pools.lsr_idle_ratio", pools.lsr_idle_ratio, 0, 1),
      atLeast("pools.lsr_idle_ticks", pools.lsr_idle_ticks, 1),
      inRange("be_cpu.safety_watermark", be_cpu.safety_watermark, 0, 1, true),
      atLeast("be_cpu.min_cpus", be_cpu.min_cpus, 1),
      atLeast("be_cpu.grow_step_cpus", be_cpu.grow_step_cpus, 1),
      inRange("be_cpu.quota_grow_step_cores", be_cpu.quota_grow_step_cores, 0, kBig, true),
      be_cpu.task_slice_us == 0 ? ok()
                                : inRange("be_cpu.task_slice_us (0 turns it off)",
                                          static_cast<double>(be_cpu.task_slice_us), 100, 100000),
      atLeast("latency_guard.threshold_us_lsx", static_cast<double>(latency_guard.threshold_us_lsx),
              1),
      atLeast("latency_guard.threshold_us_lsr", static_cast<double>(latency_guard.threshold_us_lsr),
              1),
      atLeast("latency_guard.threshold_us_ls", static_cast<double>(latency_guard.threshold_us_ls),
              1),
      inRange("latency_guard.window_ticks", latency_guard.window_ticks, 1, 10000),
      inRange("latency_guard.trigger_percentile", latency_guard.trigger_percentile, 0, 100),
      inRange("latency_guard.release_ratio", latency_guard.release_ratio, 0, 1, true),
      atLeast("latency_guard.release_hold_ticks", latency_guard.release_hold_ticks, 1),
      inRange("latency_guard.squeeze_factor", latency_guard.squeeze_factor, 0, 1, true),
      inRange("latency_guard.release_step_cpus", latency_guard.release_step_cpus, 0, kBig, true),
      atLeast("latency_guard.events_to_fire", latency_guard.events_to_fire, 1),
      atLeast("latency_guard.event_window_ms", static_cast<double>(latency_guard.event_window_ms),
              1),
      atLeast("latency_guard.event_min_interval_ms",
              static_cast<double>(latency_guard.event_min_interval_ms), 0),
      inRange("throttle_relief.throttled_ratio", throttle_relief.throttled_ratio, 0, 1, true),
      atLeast("throttle_relief.trigger_ticks", throttle_relief.trigger_ticks, 1),
      inRange("throttle_relief.burst_fraction", throttle_relief.burst_fraction, 0, 1, true),
      inRange("throttle_relief.limit_step_ratio", throttle_relief.limit_step_ratio, 0, kBig, true),
      inRange("throttle_relief.max_limit_ratio", throttle_relief.max_limit_ratio, 1, kBig),
      atLeast("throttle_relief.revert_calm_ticks", throttle_relief.revert_calm_ticks, 1),
      inRange("throttle_relief.revert_usage_ratio", throttle_relief.revert_usage_ratio, 0, 1, true),
      inRange("throttle_relief.period_us", static_cast<double>(throttle_relief.period_us), 1000,
              1000000),
      inRange("memory_guard.psi_some_threshold", memory_guard.psi_some_threshold, 0, 100, true),
      inRange("memory_guard.free_watermark", memory_guard.free_watermark, 0, 1),
      inRange("memory_guard.release_free_watermark", memory_guard.release_free_watermark,
              memory_guard.free_watermark, 1),
      atLeast("memory_guard.release_hold_ticks", memory_guard.release_hold_ticks, 1),
      inRange("memory_guard.release_step_ratio", memory_guard.release_step_ratio, 0, 1, true),
      inRange("memory_guard.squeeze_ratio", memory_guard.squeeze_ratio, 0, 1),
      atLeast("freeze.max_signal_age_ms", static_cast<double>(freeze.max_signal_age_ms), 1),
      atLeast("freeze.max_read_failures", freeze.max_read_failures, 1),
      atLeast("freeze.resume_after_ticks", freeze.resume_after_ticks, 1),
      inRange("capacity.window_ticks", capacity.window_ticks, 1, 1000000),
      inRange("capacity.memory_watermark", capacity.memory_watermark, 0, 1, true),
      atLeast("capacity.ot_ratio", capacity.ot_ratio, 0),
      inRange("profile.window_ticks", profile.window_ticks, 1, 1000000),
      inRange("profile.periodic_percentile", profile.periodic_percentile, 0, 100, true),
      inRange("profile.ewma_alpha", profile.ewma_alpha, 0, 1, true),
  };
  for (auto& s : checks) {
    if (!s) {
      return s;
    }
  }
  return ok();
}

nlohmann::json PolicyConfig::toJson() const {
  nlohmann::json j = nlohmann::json::object();
  auto copy = *this;
  forEachKnob(copy, [&](const char* section, const char* key, KnobRef ref) {
    std::visit(
        [&](auto* p) {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, ReliefMode>) {
            j[section][key] = reliefModeName(*p);
          } else if constexpr (std::is_same_v<T, BeCpuMode>) {
            j[section][key] = beCpuModeName(*p);
          } else {
            j[section][key] = *p;
          }
        },
        ref);
  });
  return j;
}

Result<PolicyConfig> PolicyConfig::fromJson(const nlohmann::json& j) {
  PolicyConfig c;
  if (j.is_null()) {
    return c;
  }
  if (!j.is_object()) {
    return failInvalid("policy config: expected an object of sections");
  }
  std::set<std::string> known_sections;
  std::set<std::string> known_keys;
  forEachKnob(c, [&](const char* section, const char* key, KnobRef) {
    known_sections.insert(section);
    known_keys.insert(fmt::format("{}.{}", section, key));
  });
  for (const auto& [section, body] : j.items()) {
    if (!known_sections.contains(section)) {
      return failInvalid(fmt::format("{}: unknown section", section));
    }
    if (!body.is_object()) {
      return failInvalid(fmt::format("{}: expected an object", section));
    }
    for (const auto& [key, value] : body.items()) {
      auto full = fmt::format("{}.{}", section, key);
      if (!known_keys.contains(full)) {
        return failInvalid(fmt::format("{}: unknown key", full));
      }
    }
  }
  Status status = ok();
  forEachKnob(c, [&](const char* section, const char* key, KnobRef ref) {
    if (!status) {
      return;
    }
    auto s = j.find(section);
    if (s == j.end()) {
      return;
    }
    auto k = s->find(key);
    if (k == s->end()) {
      return;
    }
    status = readKnob(*k, fmt::format("{}.{}", section, key), ref);
  });
  if (!status) {
    return fail(status.error().wrap("policy config"));
  }
  if (auto v = c.validate(); !v) {
    return fail(v.error().wrap("policy config"));
  }
  return c;
}

}  // namespace colo::policy
