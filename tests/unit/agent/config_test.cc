#include "agent/config.h"

#include <gtest/gtest.h>

namespace colo::agent {
namespace {

using bpf::Tier;

TEST(ConfigTest, EmptyDocumentGivesDefaults) {
  auto c = parseConfig("", "/etc/colo/colod.yaml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->tick_ms, 1000u);
  EXPECT_EQ(c->window_ticks, 60u);
  EXPECT_EQ(c->resync_interval_s, 60u);
  EXPECT_EQ(c->cgroup_root, "auto");
  EXPECT_EQ(c->api_socket, "/run/colo/colod.sock");
  EXPECT_EQ(c->api_addr, "");
  EXPECT_EQ(c->pin_dir, "/sys/fs/bpf/colo");
  EXPECT_TRUE(c->tier_rules.empty());
}

TEST(ConfigTest, FullDocument) {
  auto c = parseConfig(R"(
node_name: node-7
cgroup_root: /kubepods.slice
tick_ms: 250
window_ticks: 120
resync_interval_s: 30
api_socket: /run/colo/api.sock
api_addr: 127.0.0.1:9477
pin_dir: /sys/fs/bpf/colo2
log_level: debug
latency_thresholds_us: {LSX: 200, lsr: 500, LS: 3000, BE: 0}
tier_rules:
  - match: /batch/*
    tier: BE
  - {match: /system.slice/nginx.service, tier: lsx}
bpf:
  max_cgroups: 16384
  events_per_sec: 500
  force_raw_tp: true
  cgroup_iter: false
)",
                       "test.yaml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->node_name, "node-7");
  EXPECT_EQ(c->cgroup_root, "/kubepods.slice");
  EXPECT_EQ(c->tick_ms, 250u);
  EXPECT_EQ(c->window_ticks, 120u);
  EXPECT_EQ(c->resync_interval_s, 30u);
  EXPECT_EQ(c->api_socket, "/run/colo/api.sock");
  EXPECT_EQ(c->api_addr, "127.0.0.1:9477");
  EXPECT_EQ(c->pin_dir, "/sys/fs/bpf/colo2");
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->latency_threshold_us[static_cast<int>(Tier::kLSX)], 200u);
  EXPECT_EQ(c->latency_threshold_us[static_cast<int>(Tier::kLSR)], 500u);
  EXPECT_EQ(c->latency_threshold_us[static_cast<int>(Tier::kLS)], 3000u);
  EXPECT_EQ(c->latency_threshold_us[static_cast<int>(Tier::kBE)], 0u);
  ASSERT_EQ(c->tier_rules.size(), 2u);
  EXPECT_EQ(c->tier_rules[0].match, "/batch/*");
  EXPECT_EQ(c->tier_rules[0].tier, Tier::kBE);
  EXPECT_EQ(c->tier_rules[1].tier, Tier::kLSX);
  EXPECT_EQ(c->bpf_max_cgroups, 16384u);
  EXPECT_EQ(c->bpf_events_per_sec, 500u);
  EXPECT_TRUE(c->bpf_force_raw_tp);
  EXPECT_EQ(c->bpf_cgroup_iter, std::optional<bool>(false));
  auto d = parseConfig("", "empty.yaml");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->bpf_cgroup_iter) << "unset: colod decides by cgroup version";
}

// Every bad value is reported with the file and the key it came from.
TEST(ConfigTest, EachBadKeyIsNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {"tick_ms: 50",
       "config /etc/colo/colod.yaml: tick_ms: must be between 100 and 60000, got 50"},
      {"tick_ms: 60001", "tick_ms: must be between 100 and 60000, got 60001"},
      {"tick_ms: fast", "tick_ms: must be a non-negative integer, got 'fast'"},
      {"tick_ms: -5", "tick_ms: must be a non-negative integer"},
      {"tick_ms: [1]", "tick_ms: must be a non-negative integer, got <list>"},
      {"window_ticks: 0", "window_ticks: must be between 1 and 600, got 0"},
      {"resync_interval_s: 0", "resync_interval_s: must be between 1 and 86400"},
      {"cgroup_root: kubepods", "cgroup_root: must be an absolute path"},
      {"api_socket: colod.sock", "api_socket: must be an absolute path"},
      {"api_addr: 127.0.0.1", "api_addr: must be host:port"},
      {"api_addr: 127.0.0.1:99999", "api_addr: bad port"},
      {"pin_dir: bpf", "pin_dir: must be an absolute path"},
      {"log_level: loud", "log_level: must be debug, info, warn or error, got 'loud'"},
      {"tick_msec: 100", "tick_msec: unknown key"},
      {"latency_thresholds_us: {LSY: 1}", "latency_thresholds_us.LSY: unknown tier"},
      {"latency_thresholds_us: {LS: 20000000}",
       "latency_thresholds_us.LS: must be between 0 and 10000000"},
      {"latency_thresholds_us: 5", "latency_thresholds_us: must be a map"},
      {"tier_rules: {match: /a}", "tier_rules: must be a list"},
      {"tier_rules: [{match: /a, tier: XL}]",
       "tier_rules[0].tier: must be one of LSX, LSR, LS, BE"},
      {"tier_rules: [{match: /a, tier: BE}, {match: a, tier: BE}]",
       "tier_rules[1].match: must be a glob starting with '/'"},
      {"tier_rules: [{tier: BE}]", "tier_rules[0].match: missing"},
      {"tier_rules: [{match: /a}]", "tier_rules[0].tier: missing"},
      {"tier_rules: [{match: /a, tier: BE, pods: 1}]", "tier_rules[0].pods: unknown key"},
      {"bpf: {max_cgroups: 1}", "bpf.max_cgroups: must be between 64 and 1048576, got 1"},
      {"bpf: {events_per_sec: 0}", "bpf.events_per_sec: must be between 1 and 1000000"},
      {"bpf: {force_raw_tp: maybe}", "bpf.force_raw_tp: must be true or false"},
      {"bpf: {cgroup_iter: 2}", "bpf.cgroup_iter: must be true or false"},
      {"bpf: {ringbuf: 1}", "bpf.ringbuf: unknown key"},
      {"tick_ms: 100\ntick_ms: 200", "tick_ms: given twice"},
      {"- a\n- b", "the document must be a map"},
      {"tick_ms: [1, 2", "config /etc/colo/colod.yaml: line"},
  };
  for (const auto& [yaml, want] : cases) {
    auto c = parseConfig(yaml, "/etc/colo/colod.yaml");
    ASSERT_FALSE(c) << yaml;
    EXPECT_NE(c.error().message().find(want), std::string::npos)
        << "yaml: " << yaml << "\n got: " << c.error().message() << "\nwant: " << want;
    EXPECT_EQ(c.error().message().rfind("config /etc/colo/colod.yaml: ", 0), 0u)
        << c.error().message();
  }
}

TEST(ConfigTest, FlagsOverrideTheFile) {
  auto c = parseConfig("tick_ms: 500\napi_socket: /run/a.sock\n", "f.yaml");
  ASSERT_TRUE(c);
  ConfigOverrides o;
  o.tick_ms = 200;
  o.cgroup_root = "/colo-test-1/kubepods";
  auto merged = applyOverrides(*c, o);
  ASSERT_TRUE(merged) << merged.error().message();
  EXPECT_EQ(merged->tick_ms, 200u);
  EXPECT_EQ(merged->cgroup_root, "/colo-test-1/kubepods");
  EXPECT_EQ(merged->api_socket, "/run/a.sock");  // not overridden: from the file
}

TEST(ConfigTest, BadFlagValueNamesTheFlag) {
  ConfigOverrides o;
  o.tick_ms = 50;
  auto merged = applyOverrides(AgentConfig{}, o);
  ASSERT_FALSE(merged);
  EXPECT_EQ(merged.error().message(), "flag --tick_ms: must be between 100 and 60000, got 50");
}

TEST(ConfigTest, MissingFileIsAnErrorNamingIt) {
  auto c = loadConfigFile("/nonexistent/colod.yaml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("config /nonexistent/colod.yaml"), std::string::npos);
  EXPECT_EQ(c.error().code(), ENOENT);
}

TEST(ConfigTest, HostPort) {
  auto hp = parseHostPort("127.0.0.1:9477");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->first, "127.0.0.1");
  EXPECT_EQ(hp->second, 9477);
  auto v6 = parseHostPort("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 0);
  EXPECT_FALSE(parseHostPort(":80"));
  EXPECT_FALSE(parseHostPort("host:"));
  EXPECT_FALSE(parseHostPort("host:http"));
}

}  // namespace
}  // namespace colo::agent

#include "agent/startup.h"

namespace colo::agent {
namespace {

TEST(StartupTest, MissingBtfSaysWhy) {
  auto st = checkBtf("/nonexistent/btf/vmlinux");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message().rfind("no BTF at /nonexistent/btf/vmlinux: this kernel was built "
                                       "without CONFIG_DEBUG_INFO_BTF",
                                       0),
            0u)
      << st.error().message();
  EXPECT_TRUE(checkBtf("/"));  // anything that exists
}

TEST(StartupTest, PrivilegeCheckMatchesTheEffectiveCapabilities) {
  auto st = checkPrivileges();
  if (::geteuid() == 0) {
    EXPECT_TRUE(st) << st.error().message();
  } else {
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("colod needs root or CAP_BPF+CAP_PERFMON+CAP_SYS_ADMIN"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace colo::agent

namespace colo::agent {
namespace {

// The documented example stays valid.
TEST(ConfigTest, ExampleFileParses) {
  auto c = loadConfigFile(COLO_SOURCE_DIR "/docs/colod.example.yaml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->tick_ms, 1000u);
  EXPECT_EQ(c->tier_rules.size(), 2u);
  AgentConfig defaults;
  EXPECT_EQ(c->latency_threshold_us, defaults.latency_threshold_us);
  EXPECT_EQ(c->bpf_max_cgroups, defaults.bpf_max_cgroups);
}

}  // namespace
}  // namespace colo::agent
