#include "extender/config.h"

#include <gtest/gtest.h>

namespace colo::extender {
namespace {

TEST(Config, DefaultsWhenEmpty) {
  auto c = parseConfig("");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->max_metrics_age_s, 60);
  EXPECT_EQ(c->load_aware.weight, 3);
  EXPECT_EQ(c->request_parallelism, Config::defaultRequestParallelism());
  EXPECT_GE(c->request_parallelism, 1);
  EXPECT_LE(c->request_parallelism, 4);
  EXPECT_EQ(c->parallel_min_nodes, 1000);
}

TEST(Config, RequestParallelismAndItsBounds) {
  auto c = parseConfig("requestParallelism: 3\nparallelMinNodes: 500\n");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->request_parallelism, 3);
  EXPECT_EQ(c->parallel_min_nodes, 500);
  for (const char* bad : {"requestParallelism: 0\n", "requestParallelism: 65\n",
                          "requestParallelism: -2\n", "requestParallelism: many\n"}) {
    auto r = parseConfig(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message().find("requestParallelism: "), std::string::npos)
        << r.error().message();
  }
  auto neg = parseConfig("parallelMinNodes: -1\n");
  ASSERT_FALSE(neg.has_value());
  EXPECT_NE(neg.error().message().find("parallelMinNodes: must be >= 0"), std::string::npos)
      << neg.error().message();
  Config flags;  // as main() checks the flags' values
  flags.request_parallelism = 0;
  EXPECT_FALSE(validateConfig(flags).has_value());
}

TEST(Config, ParsesEveryPlugin) {
  auto c = parseConfig(R"(
maxMetricsAgeSeconds: 30
colocationLabel: example.com/colo
colocationLabelValue: "yes"
plugins:
  safetyWatermark: {enabled: true, checkMemory: false}
  colocationGate: {enabled: false}
  beFit: {enabled: true}
  loadAware: {weight: 5, nowWeight: 1, peakWeight: 0}
  balance: {weight: 0}
  coolDown: {weight: 4, windowSeconds: 10, penaltyPerWin: 0.25, defaultPodCpuMillis: 200}
)");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->max_metrics_age_s, 30);
  EXPECT_EQ(c->colocation_label, "example.com/colo");
  EXPECT_EQ(c->colocation_label_value, "yes");
  EXPECT_FALSE(c->safety_watermark.check_memory);
  EXPECT_FALSE(c->colocation_gate.enabled);
  EXPECT_EQ(c->load_aware.weight, 5);
  EXPECT_EQ(c->balance.weight, 0);
  EXPECT_EQ(c->cool_down.window_s, 10);
  EXPECT_DOUBLE_EQ(c->cool_down.penalty_per_win, 0.25);
  EXPECT_EQ(c->cool_down.default_pod_cpu_m, 200);
}

TEST(Config, ErrorsNameTheKey) {
  auto typo = parseConfig("plugins:\n  loadAware: {wieght: 3}\n");
  ASSERT_FALSE(typo.has_value());
  EXPECT_NE(typo.error().message().find("plugins.loadAware.wieght: unknown key"), std::string::npos)
      << typo.error().message();
  auto type = parseConfig("maxMetricsAgeSeconds: soon\n");
  ASSERT_FALSE(type.has_value());
  EXPECT_NE(type.error().message().find("maxMetricsAgeSeconds: expected an integer"),
            std::string::npos)
      << type.error().message();
  EXPECT_FALSE(parseConfig("plugins:\n  balance: {weight: -1}\n").has_value());
  EXPECT_FALSE(parseConfig("a: [").has_value());
  EXPECT_FALSE(loadConfig("/nonexistent/colo.yaml").has_value());
}

}  // namespace
}  // namespace colo::extender
