// colod configuration: YAML file (docs/agent.md lists every key), overridden by flags.
// Validation names the offending key: "config /etc/colo/colod.yaml: tick_ms: must be between
// 100 and 60000, got 50".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/policy/config.h"
#include "agent/tiers.h"
#include "bpf/sched_probe.h"
#include "common/result.h"

namespace colo::agent {

struct AgentConfig {
  std::string node_name;             // "" = the host name
  std::string cgroup_root = "auto";  // kubelet root below the cpu hierarchy mount
  uint32_t tick_ms = 1000;           // collection period
  uint32_t window_ticks = 60;        // percentile window, in ticks
  uint32_t resync_interval_s = 60;   // safety-net rescan of the kubelet tree
  std::string api_socket = "/run/colo/colod.sock";
  std::string api_addr;  // "host:port" for a loopback TCP listener; ""
  std::string pin_dir = "/sys/fs/bpf/colo";
  std::string log_level = "info";
  // Run-queue delay over which a tier's task raises a latency event, in microseconds, indexed by
  // bpf::Tier. 0 disables events for the tier.
  std::array<uint64_t, bpf::kTierCount> latency_threshold_us = {0, 0, 5000, 2000, 1000};
  std::vector<TierRule> tier_rules;
  uint32_t bpf_max_cgroups = 8192;
  uint32_t bpf_events_per_sec = 1000;
  bool bpf_force_raw_tp = false;
  // Read every container's CPU figures in one BPF cgroup-iterator read per tick (bpf/cgstat);
  // false, or a kernel without it, reads cpu.stat/cpuacct.usage per container. Unset: on for
  // cgroup v1, where it is tested against cpuacct.usage; off for v2 until it is verified there.
  std::optional<bool> bpf_cgroup_iter;

  // Enforcement (docs/agent.md, "Enforcement"). The policy engine runs when the file has a
  // `policy:` section (or `enforce: true`); `enforce` then defaults to true. enforce=false runs
  // the engine dry: capacity, controllers and plans in the API, no cgroup write.
  bool policy_enabled = false;
  std::optional<bool> enforce;  // unset: follows policy_enabled
  policy::PolicyConfig policy;  // `policy:` section (PolicyConfig::fromJson)
  bool policy_thresholds_set[3] = {false, false,
                                   false};  // latency_guard.threshold_us_{lsx,lsr,ls} given
  std::string state_dir = "/var/lib/colo";  // executor journal and lock
  double max_writes_per_sec = 200;          // executor rate limit
  // Name of the feature probe's temporary cgroup (flag only; tests use colo-test-*). "" =
  // colo-probe-<pid>.
  std::string feature_probe_name;

  bool enforcing() const { return enforce.value_or(policy_enabled); }
  bool engineEnabled() const { return policy_enabled || enforcing(); }
};

// The policy config colod runs: `config.policy` with every latency_guard threshold the file did
// not set taken from latency_thresholds_us, so BPF events and the guard agree.
policy::PolicyConfig effectivePolicy(const AgentConfig& config);

// Checks ranges and formats; the error message starts with the key ("tick_ms: ...").
Status validateConfig(const AgentConfig& config);

// Parses YAML `text` onto the defaults and validates. Errors read
// "config <source>: <key>: <what is wrong>".
Result<AgentConfig> parseConfig(std::string_view text, std::string_view source);
// Reads and parses the file at `path`.
Result<AgentConfig> loadConfigFile(const std::string& path);

// Values given on the command line; each set field replaces the config's.
struct ConfigOverrides {
  std::optional<std::string> node_name, cgroup_root, api_socket, api_addr, pin_dir, log_level,
      state_dir, feature_probe_name;
  std::optional<uint32_t> tick_ms, window_ticks, resync_interval_s;
  std::optional<bool> bpf_force_raw_tp, bpf_cgroup_iter, enforce;
};
// Applies `overrides` and validates again; errors read "flag --<key>: <what is wrong>" when the
// bad value came from a flag.
Result<AgentConfig> applyOverrides(AgentConfig config, const ConfigOverrides& overrides);

// Splits "host:port" ("[::1]:9477" too). EINVAL naming the problem.
Result<std::pair<std::string, uint16_t>> parseHostPort(std::string_view addr);

}  // namespace colo::agent
