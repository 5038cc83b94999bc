#include "agent/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "common/fs.h"
#include "common/log.h"

namespace colo::agent {
namespace {

std::unexpected<Error> keyError(std::string_view key, std::string_view what) {
  return failInvalid(fmt::format("{}: {}", key, what));
}

Status checkRange(std::string_view key, uint64_t v, uint64_t lo, uint64_t hi) {
  if (v < lo || v > hi) {
    return keyError(key, fmt::format("must be between {} and {}, got {}", lo, hi, v));
  }
  return ok();
}

Status checkAbsolute(std::string_view key, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return keyError(key, fmt::format("must be an absolute path, got '{}'", path));
  }
  return ok();
}

std::string scalarText(const YAML::Node& node) {
  return node.IsScalar() ? node.Scalar()
                         : std::string("<") +
                               (node.IsMap()        ? "map"
                                : node.IsSequence() ? "list"
                                                    : "null") +
                               ">";
}

Result<std::string> getString(const YAML::Node& node, std::string_view key) {
  if (!node.IsScalar()) {
    return keyError(key, fmt::format("must be a string, got {}", scalarText(node)));
  }
  return node.Scalar();
}

Result<uint64_t> getUint(const YAML::Node& node, std::string_view key) {
  if (!node.IsScalar()) {
    return keyError(key, fmt::format("must be a non-negative integer, got {}", scalarText(node)));
  }
  const std::string& s = node.Scalar();
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return keyError(key, fmt::format("must be a non-negative integer, got '{}'", s));
  }
  return v;
}

Result<uint32_t> getUint32(const YAML::Node& node, std::string_view key) {
  auto v = getUint(node, key);
  if (!v) {
    return fail(v.error());
  }
  if (*v > UINT32_MAX) {
    return keyError(key, fmt::format("too large, got {}", *v));
  }
  return static_cast<uint32_t>(*v);
}

Result<bool> getBool(const YAML::Node& node, std::string_view key) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true" || s == "yes" || s == "on") {
      return true;
    }
    if (s == "false" || s == "no" || s == "off") {
      return false;
    }
  }
  return keyError(key, fmt::format("must be true or false, got {}", scalarText(node)));
}

Result<bpf::Tier> getTier(const YAML::Node& node, std::string_view key) {
  auto s = getString(node, key);
  if (!s) {
    return fail(s.error());
  }
  bpf::Tier tier;
  if (!bpf::parseTier(*s, &tier)) {
    return keyError(key, fmt::format("must be one of LSX, LSR, LS, BE, got '{}'", *s));
  }
  return tier;
}

// YAML -> JSON for PolicyConfig::fromJson: plain scalars become booleans or numbers when they
// read as such, quoted ones stay strings.
Result<nlohmann::json> yamlToJson(const YAML::Node& node, const std::string& key) {
  if (node.IsNull()) {
    return nlohmann::json();
  }
  if (node.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string k = it->first.Scalar();
      std::string sub = key.empty() ? k : key + "." + k;
      if (j.contains(k)) {
        return keyError(sub, "given twice");
      }
      auto v = yamlToJson(it->second, sub);
      if (!v) {
        return fail(v.error());
      }
      j[k] = std::move(*v);
    }
    return j;
  }
  if (node.IsSequence()) {
    nlohmann::json j = nlohmann::json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      auto v = yamlToJson(node[i], fmt::format("{}[{}]", key, i));
      if (!v) {
        return fail(v.error());
      }
      j.push_back(std::move(*v));
    }
    return j;
  }
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") {  // quoted
    return nlohmann::json(s);
  }
  if (s == "true" || s == "yes" || s == "on") {
    return nlohmann::json(true);
  }
  if (s == "false" || s == "no" || s == "off") {
    return nlohmann::json(false);
  }
  int64_t i = 0;
  auto [iptr, iec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (!s.empty() && iec == std::errc() && iptr == s.data() + s.size()) {
    return nlohmann::json(i);
  }
  double d = 0;
  auto [dptr, dec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (!s.empty() && dec == std::errc() && dptr == s.data() + s.size() && std::isfinite(d)) {
    return nlohmann::json(d);
  }
  return nlohmann::json(s);
}

Status parsePolicy(const YAML::Node& node, AgentConfig* config) {
  auto j = yamlToJson(node, "policy");
  if (!j) {
    return fail(j.error());
  }
  if (!j->is_null() && !j->is_object()) {
    return keyError("policy", "must be a map of sections (see docs/tiers-and-policy.md)");
  }
  nlohmann::json body = j->is_null() ? nlohmann::json::object() : *j;
  Result<policy::PolicyConfig> parsed = [&]() -> Result<policy::PolicyConfig> {
    try {
      return policy::PolicyConfig::fromJson(body);
    } catch (const nlohmann::json::exception& e) {
      return failInvalid(e.what());
    }
  }();
  if (!parsed) {
    // fromJson names the key as "<section>.<knob>"; prefix the YAML section.
    std::string msg = parsed.error().message();
    constexpr std::string_view kPrefix = "policy config: ";
    if (msg.starts_with(kPrefix)) {
      msg.erase(0, kPrefix.size());
    }
    return fail(Error::invalid("policy." + msg));
  }
  config->policy = *parsed;
  config->policy_enabled = true;
  if (body.contains("latency_guard") && body["latency_guard"].is_object()) {
    const auto& g = body["latency_guard"];
    config->policy_thresholds_set[0] = g.contains("threshold_us_lsx");
    config->policy_thresholds_set[1] = g.contains("threshold_us_lsr");
    config->policy_thresholds_set[2] = g.contains("threshold_us_ls");
  }
  return ok();
}

Status parseThresholds(const YAML::Node& node, AgentConfig* config) {
  constexpr std::string_view kKey = "latency_thresholds_us";
  if (!node.IsMap()) {
    return keyError(kKey, "must be a map of tier (LSX, LSR, LS, BE) to microseconds");
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string name = it->first.Scalar();
    std::string key = fmt::format("{}.{}", kKey, name);
    bpf::Tier tier;
    if (!bpf::parseTier(name, &tier)) {
      return keyError(key, "unknown tier (use LSX, LSR, LS, BE)");
    }
    auto v = getUint(it->second, key);
    if (!v) {
      return fail(v.error());
    }
    config->latency_threshold_us[static_cast<int>(tier)] = *v;
  }
  return ok();
}

Status parseRules(const YAML::Node& node, AgentConfig* config) {
  if (!node.IsSequence()) {
    return keyError("tier_rules", "must be a list of {match, tier}");
  }
  config->tier_rules.clear();
  for (size_t i = 0; i < node.size(); ++i) {
    std::string key = fmt::format("tier_rules[{}]", i);
    const YAML::Node& item = node[i];
    if (!item.IsMap()) {
      return keyError(key, "must be a map with 'match' and 'tier'");
    }
    TierRule rule;
    bool have_match = false;
    bool have_tier = false;
    for (auto it = item.begin(); it != item.end(); ++it) {
      std::string name = it->first.Scalar();
      std::string sub = fmt::format("{}.{}", key, name);
      if (name == "match") {
        auto s = getString(it->second, sub);
        if (!s) {
          return fail(s.error());
        }
        rule.match = *s;
        have_match = true;
      } else if (name == "tier") {
        auto t = getTier(it->second, sub);
        if (!t) {
          return fail(t.error());
        }
        rule.tier = *t;
        have_tier = true;
      } else {
        return keyError(sub, "unknown key (expected match, tier)");
      }
    }
    if (!have_match) {
      return keyError(key + ".match", "missing");
    }
    if (!have_tier) {
      return keyError(key + ".tier", "missing");
    }
    config->tier_rules.push_back(std::move(rule));
  }
  return ok();
}

Status parseBpf(const YAML::Node& node, AgentConfig* config) {
  if (!node.IsMap()) {
    return keyError("bpf", "must be a map");
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string name = it->first.Scalar();
    std::string key = "bpf." + name;
    if (name == "max_cgroups") {
      auto v = getUint32(it->second, key);
      if (!v) {
        return fail(v.error());
      }
      config->bpf_max_cgroups = *v;
    } else if (name == "events_per_sec") {
      auto v = getUint32(it->second, key);
      if (!v) {
        return fail(v.error());
      }
      config->bpf_events_per_sec = *v;
    } else if (name == "force_raw_tp") {
      auto v = getBool(it->second, key);
      if (!v) {
        return fail(v.error());
      }
      config->bpf_force_raw_tp = *v;
    } else if (name == "cgroup_iter") {
      auto v = getBool(it->second, key);
      if (!v) {
        return fail(v.error());
      }
      config->bpf_cgroup_iter = *v;
    } else {
      return keyError(
          key, "unknown key (expected max_cgroups, events_per_sec, force_raw_tp, cgroup_iter)");
    }
  }
  return ok();
}

Status parseTop(const YAML::Node& root, AgentConfig* config) {
  if (root.IsNull()) {
    return ok();  // empty file: all defaults
  }
  if (!root.IsMap()) {
    return failInvalid("the document must be a map of keys");
  }
  std::set<std::string> seen;
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string key = it->first.Scalar();
    const YAML::Node& value = it->second;
    if (!seen.insert(key).second) {
      return keyError(key, "given twice");
    }
    auto str = [&](std::string* out) -> Status {
      auto s = getString(value, key);
      if (!s) {
        return fail(s.error());
      }
      *out = *s;
      return ok();
    };
    auto u32 = [&](uint32_t* out) -> Status {
      auto v = getUint32(value, key);
      if (!v) {
        return fail(v.error());
      }
      *out = *v;
      return ok();
    };
    Status st;
    if (key == "node_name") {
      st = str(&config->node_name);
    } else if (key == "cgroup_root") {
      st = str(&config->cgroup_root);
    } else if (key == "tick_ms") {
      st = u32(&config->tick_ms);
    } else if (key == "window_ticks") {
      st = u32(&config->window_ticks);
    } else if (key == "resync_interval_s") {
      st = u32(&config->resync_interval_s);
    } else if (key == "api_socket") {
      st = str(&config->api_socket);
    } else if (key == "api_addr") {
      st = str(&config->api_addr);
    } else if (key == "pin_dir") {
      st = str(&config->pin_dir);
    } else if (key == "log_level") {
      st = str(&config->log_level);
    } else if (key == "latency_thresholds_us") {
      st = parseThresholds(value, config);
    } else if (key == "tier_rules") {
      st = parseRules(value, config);
    } else if (key == "bpf") {
      st = parseBpf(value, config);
    } else if (key == "policy") {
      st = parsePolicy(value, config);
    } else if (key == "enforce") {
      auto v = getBool(value, key);
      if (v) {
        config->enforce = *v;
      }
      st = v ? ok() : Status(fail(v.error()));
    } else if (key == "state_dir") {
      st = str(&config->state_dir);
    } else if (key == "max_writes_per_sec") {
      auto v = getUint32(value, key);
      if (v) {
        config->max_writes_per_sec = *v;
      }
      st = v ? ok() : Status(fail(v.error()));
    } else {
      st = keyError(key, "unknown key (see docs/agent.md)");
    }
    if (!st) {
      return st;
    }
  }
  return ok();
}

}  // namespace

Result<std::pair<std::string, uint16_t>> parseHostPort(std::string_view addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return failInvalid(fmt::format("must be host:port, got '{}'", addr));
  }
  std::string host(addr.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view port_text = addr.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    return failInvalid(fmt::format("bad port in '{}'", addr));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Status validateConfig(const AgentConfig& c) {
  if (c.cgroup_root != "auto") {
    if (auto st = checkAbsolute("cgroup_root", c.cgroup_root); !st) {
      return fail(Error::invalid(st.error().message() + " (or \"auto\")"));
    }
  }
  if (auto st = checkRange("tick_ms", c.tick_ms, 100, 60000); !st) {
    return st;
  }
  if (auto st = checkRange("window_ticks", c.window_ticks, 1, 600); !st) {
    return st;
  }
  if (auto st = checkRange("resync_interval_s", c.resync_interval_s, 1, 86400); !st) {
    return st;
  }
  if (auto st = checkAbsolute("api_socket", c.api_socket); !st) {
    return st;
  }
  if (!c.api_addr.empty()) {
    if (auto hp = parseHostPort(c.api_addr); !hp) {
      return fail(hp.error().wrap("api_addr"));
    }
  }
  if (auto st = checkAbsolute("pin_dir", c.pin_dir); !st) {
    return st;
  }
  log::Level level;
  if (!log::parseLevel(c.log_level, &level)) {
    return keyError("log_level",
                    fmt::format("must be debug, info, warn or error, got '{}'", c.log_level));
  }
  for (int t = 1; t < bpf::kTierCount; ++t) {
    std::string key = fmt::format("latency_thresholds_us.{}", bpf::tierName(bpf::Tier(t)));
    if (auto st = checkRange(key, c.latency_threshold_us[t], 0, 10'000'000); !st) {
      return st;
    }
  }
  for (size_t i = 0; i < c.tier_rules.size(); ++i) {
    const TierRule& r = c.tier_rules[i];
    if (r.match.empty() || r.match[0] != '/') {
      return keyError(fmt::format("tier_rules[{}].match", i),
                      fmt::format("must be a glob starting with '/', got '{}'", r.match));
    }
    if (r.tier == bpf::Tier::kNone) {
      return keyError(fmt::format("tier_rules[{}].tier", i), "must be one of LSX, LSR, LS, BE");
    }
  }
  if (auto st = checkRange("bpf.max_cgroups", c.bpf_max_cgroups, 64, 1 << 20); !st) {
    return st;
  }
  if (auto st = checkRange("bpf.events_per_sec", c.bpf_events_per_sec, 1, 1'000'000); !st) {
    return st;
  }
  if (auto st = checkAbsolute("state_dir", c.state_dir); !st) {
    return st;
  }
  if (c.max_writes_per_sec < 1 || c.max_writes_per_sec > 100000) {
    return keyError("max_writes_per_sec",
                    fmt::format("must be between 1 and 100000, got {}", c.max_writes_per_sec));
  }
  return ok();
}

policy::PolicyConfig effectivePolicy(const AgentConfig& config) {
  policy::PolicyConfig p = config.policy;
  int64_t* fields[3] = {&p.latency_guard.threshold_us_lsx, &p.latency_guard.threshold_us_lsr,
                        &p.latency_guard.threshold_us_ls};
  const bpf::Tier tiers[3] = {bpf::Tier::kLSX, bpf::Tier::kLSR, bpf::Tier::kLS};
  for (int i = 0; i < 3; ++i) {
    uint64_t us = config.latency_threshold_us[static_cast<int>(tiers[i])];
    if (!config.policy_thresholds_set[i] && us != 0) {
      *fields[i] = static_cast<int64_t>(us);
    }
  }
  return p;
}

Result<AgentConfig> parseConfig(std::string_view text, std::string_view source) {
  AgentConfig config;
  std::string prefix = fmt::format("config {}", source);
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (auto st = parseTop(root, &config); !st) {
      return fail(st.error().wrap(prefix));
    }
  } catch (const YAML::Exception& e) {
    return failInvalid(fmt::format("{}: line {}: {}", prefix, e.mark.line + 1, e.msg));
  }
  if (auto st = validateConfig(config); !st) {
    return fail(st.error().wrap(prefix));
  }
  return config;
}

Result<AgentConfig> loadConfigFile(const std::string& path) {
  RealFs fs;
  auto text = fs.readFile(path);
  if (!text) {
    return fail(text.error().wrap("config " + path));
  }
  return parseConfig(*text, path);
}

Result<AgentConfig> applyOverrides(AgentConfig c, const ConfigOverrides& o) {
  std::set<std::string> from_flags;
  auto take = [&](const auto& opt, auto* field, const char* key) {
    if (opt) {
      *field = *opt;
      from_flags.insert(key);
    }
  };
  take(o.node_name, &c.node_name, "node_name");
  take(o.cgroup_root, &c.cgroup_root, "cgroup_root");
  take(o.api_socket, &c.api_socket, "api_socket");
  take(o.api_addr, &c.api_addr, "api_addr");
  take(o.pin_dir, &c.pin_dir, "pin_dir");
  take(o.log_level, &c.log_level, "log_level");
  take(o.tick_ms, &c.tick_ms, "tick_ms");
  take(o.window_ticks, &c.window_ticks, "window_ticks");
  take(o.resync_interval_s, &c.resync_interval_s, "resync_interval_s");
  take(o.bpf_force_raw_tp, &c.bpf_force_raw_tp, "bpf.force_raw_tp");
  take(o.bpf_cgroup_iter, &c.bpf_cgroup_iter, "bpf.cgroup_iter");
  take(o.state_dir, &c.state_dir, "state_dir");
  take(o.feature_probe_name, &c.feature_probe_name, "feature_probe_name");
  if (o.enforce) {
    c.enforce = *o.enforce;
  }
  if (auto st = validateConfig(c); !st) {
    const std::string& msg = st.error().message();
    std::string key = msg.substr(0, msg.find(':'));
    if (from_flags.count(key) != 0) {
      return fail(Error::invalid("flag --" + msg));
    }
    return fail(st.error().wrap("config"));
  }
  return c;
}

}  // namespace colo::agent
