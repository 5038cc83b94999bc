#include "extender/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace colo::extender {
namespace {

using Setter = std::function<Status(const YAML::Node&)>;

template <typename T>
Setter set(T* target, std::string name) {
  return [target, name](const YAML::Node& n) -> Status {
    try {
      *target = n.as<T>();
    } catch (const YAML::Exception&) {
      return failInvalid(fmt::format("{}: expected {}", name,
                                     std::is_same_v<T, bool>          ? "a boolean"
                                     : std::is_floating_point_v<T>    ? "a number"
                                     : std::is_same_v<T, std::string> ? "a string"
                                                                      : "an integer"));
    }
    return ok();
  };
}

Status applyMap(const YAML::Node& node, const std::string& where,
                const std::map<std::string, Setter>& setters) {
  if (!node.IsMap()) {
    return failInvalid(fmt::format("{}: expected a mapping", where.empty() ? "config" : where));
  }
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    auto it = setters.find(key);
    std::string path = where.empty() ? key : where + "." + key;
    if (it == setters.end()) {
      return failInvalid(fmt::format("{}: unknown key", path));
    }
    if (auto st = it->second(kv.second); !st) {
      return st;
    }
  }
  return ok();
}

Setter section(const std::string& name, std::map<std::string, Setter> setters) {
  return [name, setters = std::move(setters)](const YAML::Node& n) {
    return applyMap(n, name, setters);
  };
}

}  // namespace

Result<Config> parseConfig(const std::string& yaml_text) {
  Config c;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return failInvalid(fmt::format("YAML: {}", e.what()));
  }
  if (root.IsNull()) {
    return c;
  }
  std::map<std::string, Setter> plugins = {
      {"safetyWatermark",
       section(
           "plugins.safetyWatermark",
           {{"enabled", set(&c.safety_watermark.enabled, "safetyWatermark.enabled")},
            {"checkCpu", set(&c.safety_watermark.check_cpu, "safetyWatermark.checkCpu")},
            {"checkMemory", set(&c.safety_watermark.check_memory, "safetyWatermark.checkMemory")},
            {"checkLatencyGuard",
             set(&c.safety_watermark.check_latency_guard, "safetyWatermark.checkLatencyGuard")}})},
      {"colocationGate",
       section("plugins.colocationGate",
               {{"enabled", set(&c.colocation_gate.enabled, "colocationGate.enabled")}})},
      {"beFit", section("plugins.beFit", {{"enabled", set(&c.be_fit.enabled, "beFit.enabled")}})},
      {"loadAware",
       section("plugins.loadAware",
               {{"weight", set(&c.load_aware.weight, "loadAware.weight")},
                {"nowWeight", set(&c.load_aware.now_weight, "loadAware.nowWeight")},
                {"peakWeight", set(&c.load_aware.peak_weight, "loadAware.peakWeight")}})},
      {"balance",
       section("plugins.balance", {{"weight", set(&c.balance.weight, "balance.weight")}})},
      {"coolDown",
       section("plugins.coolDown",
               {{"weight", set(&c.cool_down.weight, "coolDown.weight")},
                {"windowSeconds", set(&c.cool_down.window_s, "coolDown.windowSeconds")},
                {"penaltyPerWin", set(&c.cool_down.penalty_per_win, "coolDown.penaltyPerWin")},
                {"defaultPodCpuMillis",
                 set(&c.cool_down.default_pod_cpu_m, "coolDown.defaultPodCpuMillis")},
                {"defaultPodMemoryBytes",
                 set(&c.cool_down.default_pod_memory_bytes, "coolDown.defaultPodMemoryBytes")}})},
  };
  std::map<std::string, Setter> top = {
      {"maxMetricsAgeSeconds", set(&c.max_metrics_age_s, "maxMetricsAgeSeconds")},
      {"colocationLabel", set(&c.colocation_label, "colocationLabel")},
      {"colocationLabelValue", set(&c.colocation_label_value, "colocationLabelValue")},
      {"requestParallelism", set(&c.request_parallelism, "requestParallelism")},
      {"parallelMinNodes", set(&c.parallel_min_nodes, "parallelMinNodes")},
      {"plugins", section("plugins", plugins)},
  };
  if (auto st = applyMap(root, "", top); !st) {
    return fail(st.error());
  }
  if (auto st = validateConfig(c); !st) {
    return fail(st.error());
  }
  return c;
}

Status validateConfig(const Config& c) {
  if (c.max_metrics_age_s <= 0) {
    return failInvalid("maxMetricsAgeSeconds: must be > 0");
  }
  for (auto [name, w] :
       {std::pair{"loadAware", c.load_aware.weight}, std::pair{"balance", c.balance.weight},
        std::pair{"coolDown", c.cool_down.weight}}) {
    if (w < 0 || w > 100) {
      return failInvalid(fmt::format("plugins.{}.weight: must be within 0..100", name));
    }
  }
  if (c.load_aware.now_weight < 0 || c.load_aware.peak_weight < 0 ||
      c.load_aware.now_weight + c.load_aware.peak_weight <= 0) {
    return failInvalid("plugins.loadAware: nowWeight and peakWeight must be >= 0, not both 0");
  }
  if (c.cool_down.window_s <= 0) {
    return failInvalid("plugins.coolDown.windowSeconds: must be > 0");
  }
  if (c.request_parallelism < 1 || c.request_parallelism > Config::kMaxRequestParallelism) {
    return failInvalid(
        fmt::format("requestParallelism: must be within 1..{} (1: no helper threads)",
                    Config::kMaxRequestParallelism));
  }
  if (c.parallel_min_nodes < 0) {
    return failInvalid("parallelMinNodes: must be >= 0");
  }
  return ok();
}

Result<Config> loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return failErrno(errno, fmt::format("read config {}", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = parseConfig(ss.str());
  if (!c) {
    return fail(c.error().wrap(fmt::format("config {}", path)));
  }
  return c;
}

}  // namespace colo::extender
