// The `policy:` section of colod's YAML and the enforcement keys.
#include <gtest/gtest.h>

#include "agent/config.h"

namespace colo::agent {
namespace {

TEST(PolicyConfigYamlTest, NoPolicySectionLeavesTheEngineOff) {
  auto c = parseConfig("tick_ms: 500\n", "t.yaml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE(c->policy_enabled);
  EXPECT_FALSE(c->enforcing());
  EXPECT_FALSE(c->engineEnabled());
  EXPECT_EQ(c->state_dir, "/var/lib/colo");
}

TEST(PolicyConfigYamlTest, PolicySectionEnablesEnforcementByDefault) {
  auto c = parseConfig(R"(
state_dir: /var/lib/colo-test
policy:
  pools: {be_dedicated_cpus: 1}
  be_cpu:
    safety_watermark: 0.7
    quota_enabled: true
  latency_guard: {squeeze_factor: 0.25, events_to_fire: 2}
)",
                       "t.yaml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->policy_enabled);
  EXPECT_TRUE(c->enforcing());
  EXPECT_EQ(c->state_dir, "/var/lib/colo-test");
  EXPECT_EQ(c->policy.pools.be_dedicated_cpus, 1);
  EXPECT_DOUBLE_EQ(c->policy.be_cpu.safety_watermark, 0.7);
  EXPECT_TRUE(c->policy.be_cpu.quota_enabled);
  EXPECT_DOUBLE_EQ(c->policy.latency_guard.squeeze_factor, 0.25);
  EXPECT_EQ(c->policy.latency_guard.events_to_fire, 2);
  // Untouched knobs keep the engine's defaults.
  EXPECT_EQ(c->policy.be_cpu.min_cpus, policy::PolicyConfig().be_cpu.min_cpus);
}

TEST(PolicyConfigYamlTest, EmptyPolicySectionMeansDefaults) {
  auto c = parseConfig("policy:\n", "t.yaml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->policy_enabled);
  EXPECT_TRUE(c->enforcing());
}

TEST(PolicyConfigYamlTest, EnforceFalseRunsTheEngineDry) {
  auto c = parseConfig("enforce: false\npolicy: {}\n", "t.yaml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->engineEnabled());
  EXPECT_FALSE(c->enforcing());
  auto e = parseConfig("enforce: true\n", "t.yaml");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->enforcing());
  EXPECT_TRUE(e->engineEnabled());
}

TEST(PolicyConfigYamlTest, ErrorsNameTheKey) {
  auto bad_value = parseConfig("policy:\n  be_cpu: {safety_watermark: 2}\n", "/etc/c.yaml");
  ASSERT_FALSE(bad_value);
  EXPECT_NE(bad_value.error().message().find("config /etc/c.yaml: policy.be_cpu.safety_watermark"),
            std::string::npos)
      << bad_value.error().message();
  auto unknown = parseConfig("policy:\n  be_cpu: {watermark: 0.5}\n", "c.yaml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("policy.be_cpu.watermark"), std::string::npos)
      << unknown.error().message();
  auto section = parseConfig("policy:\n  nope: {}\n", "c.yaml");
  ASSERT_FALSE(section);
  EXPECT_NE(section.error().message().find("policy.nope"), std::string::npos)
      << section.error().message();
  auto type = parseConfig("policy:\n  be_cpu: {min_cpus: many}\n", "c.yaml");
  ASSERT_FALSE(type);
  EXPECT_NE(type.error().message().find("policy.be_cpu.min_cpus"), std::string::npos)
      << type.error().message();
  auto not_map = parseConfig("policy: [1, 2]\n", "c.yaml");
  ASSERT_FALSE(not_map);
  EXPECT_NE(not_map.error().message().find("policy"), std::string::npos);
  auto enforce = parseConfig("enforce: maybe\n", "c.yaml");
  ASSERT_FALSE(enforce);
  EXPECT_NE(enforce.error().message().find("enforce: must be true or false"), std::string::npos)
      << enforce.error().message();
  auto state = parseConfig("state_dir: relative\n", "c.yaml");
  ASSERT_FALSE(state);
  EXPECT_NE(state.error().message().find("state_dir: must be an absolute path"), std::string::npos)
      << state.error().message();
}

TEST(PolicyConfigYamlTest, GuardThresholdsFollowTheBpfThresholdsUnlessSet) {
  auto c = parseConfig(R"(
latency_thresholds_us: {LSX: 300, LSR: 700, LS: 4000}
policy:
  latency_guard: {threshold_us_ls: 9000}
)",
                       "t.yaml");
  ASSERT_TRUE(c) << c.error().message();
  policy::PolicyConfig p = effectivePolicy(*c);
  EXPECT_EQ(p.latency_guard.threshold_us_lsx, 300);
  EXPECT_EQ(p.latency_guard.threshold_us_lsr, 700);
  EXPECT_EQ(p.latency_guard.threshold_us_ls, 9000) << "set in the policy section: kept";
}

TEST(PolicyConfigYamlTest, FlagsOverrideStateDirAndEnforce) {
  auto c = parseConfig("policy: {}\n", "t.yaml");
  ASSERT_TRUE(c);
  ConfigOverrides o;
  o.state_dir = "/tmp/colo-state";
  o.enforce = false;
  auto m = applyOverrides(*c, o);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->state_dir, "/tmp/colo-state");
  EXPECT_FALSE(m->enforcing());
  EXPECT_TRUE(m->engineEnabled());
  ConfigOverrides bad;
  bad.state_dir = "rel";
  auto b = applyOverrides(*c, bad);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message().find("flag --state_dir"), std::string::npos) << b.error().message();
}

}  // namespace
}  // namespace colo::agent
