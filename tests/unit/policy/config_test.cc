#include "agent/policy/config.h"

#include <gtest/gtest.h>

#include "agent/policy/engine.h"

namespace colo::policy {
namespace {

TEST(PolicyConfigTest, DefaultsAreValidAndDocumentedValues) {
  PolicyConfig c;
  ASSERT_TRUE(c.validate());
  auto j = c.toJson();
  EXPECT_DOUBLE_EQ(j["be_cpu"]["safety_watermark"].get<double>(), 0.65);
  EXPECT_EQ(j["be_cpu"]["min_cpus"].get<int>(), 1);
  EXPECT_EQ(j["throttle_relief"]["mode"], "burst");
  EXPECT_EQ(j["be_cpu"]["quota_enabled"], false);
  EXPECT_EQ(j["be_cpu"]["task_slice_us"].get<int>(), 0);
}

TEST(PolicyConfigTest, FromJsonOverridesAndRoundTrips) {
  auto j = nlohmann::json::parse(R"({
    "be_cpu": {"safety_watermark": 0.7, "min_cpus": 2, "quota_enabled": true},
    "throttle_relief": {"mode": "limit"},
    "memory_guard": {"min_be_bytes": 1073741824},
    "latency_guard": {"window_ticks": 20.0}
  })");
  auto c = PolicyConfig::fromJson(j);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_DOUBLE_EQ(c->be_cpu.safety_watermark, 0.7);
  EXPECT_EQ(c->be_cpu.min_cpus, 2);
  EXPECT_TRUE(c->be_cpu.quota_enabled);
  EXPECT_EQ(c->throttle_relief.mode, ReliefMode::kLimit);
  EXPECT_EQ(c->memory_guard.min_be_bytes, 1ull << 30);
  EXPECT_EQ(c->latency_guard.window_ticks, 20);
  EXPECT_EQ(c->pools.min_shared_cpus, 1);  // untouched default

  auto again = PolicyConfig::fromJson(c->toJson());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->toJson(), c->toJson());
}

TEST(PolicyConfigTest, TaskSliceZeroTurnsItOffAndReachesThePlan) {
  auto c = PolicyConfig::fromJson(nlohmann::json::parse(R"({"be_cpu": {"task_slice_us": 0}})"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->be_cpu.task_slice_us, 0);
  c = PolicyConfig::fromJson(nlohmann::json::parse(R"({"be_cpu": {"task_slice_us": 20000}})"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->be_cpu.task_slice_us, 20000);
}

TEST(PolicyConfigTest, ErrorsNameTheKey) {
  struct Case {
    const char* json;
    const char* key;
  } cases[] = {
      {R"({"be_cpu": {"safety_watermark": 1.5}})", "be_cpu.safety_watermark"},
      {R"({"be_cpu": {"safety_watermark": 0}})", "be_cpu.safety_watermark"},
      {R"({"be_cpu": {"min_cpus": 0}})", "be_cpu.min_cpus"},
      {R"({"be_cpu": {"watermrk": 0.5}})", "be_cpu.watermrk"},
      {R"({"be_cpux": {}})", "be_cpux"},
      {R"({"be_cpu": {"min_cpus": "two"}})", "be_cpu.min_cpus"},
      {R"({"be_cpu": {"min_cpus": 1.5}})", "be_cpu.min_cpus"},
      {R"({"memory_guard": {"min_be_bytes": -1}})", "memory_guard.min_be_bytes"},
      {R"({"throttle_relief": {"mode": "evict"}})", "throttle_relief.mode"},
      {R"({"be_cpu": {"mode": "sometimes"}})", "be_cpu.mode"},
      {R"({"be_cpu": {"mode": 1}})", "be_cpu.mode"},
      {R"({"throttle_relief": {"burst_fraction": 1.2}})", "throttle_relief.burst_fraction"},
      {R"({"memory_guard": {"free_watermark": 0.2, "release_free_watermark": 0.1}})",
       "memory_guard.release_free_watermark"},
      {R"({"latency_guard": {"squeeze_factor": 1.5}})", "latency_guard.squeeze_factor"},
      {R"({"be_cpu": {"task_slice_us": 50}})", "be_cpu.task_slice_us"},
      {R"({"be_cpu": {"task_slice_us": 200000}})", "be_cpu.task_slice_us"},
  };
  for (const auto& c : cases) {
    auto r = PolicyConfig::fromJson(nlohmann::json::parse(c.json));
    ASSERT_FALSE(r) << c.json;
    EXPECT_NE(r.error().message().find(c.key), std::string::npos)
        << c.json << " -> " << r.error().message();
  }
}

TEST(PolicyConfigTest, EngineCreateRefusesInvalidConfig) {
  PolicyConfig c;
  c.latency_guard.trigger_percentile = 120;
  auto e = Engine::create(c);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("latency_guard.trigger_percentile"), std::string::npos);
  EXPECT_TRUE(Engine::create(PolicyConfig{}));
}

}  // namespace
}  // namespace colo::policy
