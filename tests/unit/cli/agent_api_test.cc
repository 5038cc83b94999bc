#include "cli/agent_api.h"

#include <gtest/gtest.h>

namespace colo::cli {
namespace {

TEST(AgentApi, ParsesTheDocumentedShape) {
  auto snap = parseContainers(R"({
    "node": "host-a", "tick_ms": 1000, "window_ticks": 60, "cgroup_version": 1,
    "attach_mode": "tp_btf",
    "containers": [{
      "id": "3f1c", "name": "pod6a1e/3f1c", "pod_uid": "6a1e", "qos": "burstable", "tier": "LS",
      "cgroup": "/kubepods/burstable/pod6a1e/3f1c", "cgroup_id": 12345,
      "cpu": {"usage_cores": 0.53, "throttled_pct": 2.1, "nr_periods": 1000,
              "nr_throttled": 21, "throttled_ns": 123456789},
      "psi": null,
      "runq": {"count": 123456, "delta_count": 321, "mean_ns": 15000, "max_ns": 4000000,
               "p50_ns": 8192, "p90_ns": 32768, "p99_ns": 131072},
      "hist_window": [0, 1, 2],
      "preemptions": 10, "involuntary_switches": 9,
      "waited_behind_lower": 4, "waited_behind_lower_delta": 1, "over_threshold": 0
    }]})");
  ASSERT_TRUE(snap) << snap.error().message();
  EXPECT_EQ(snap->node, "host-a");
  EXPECT_EQ(snap->tick_ms, 1000);
  EXPECT_EQ(snap->window_ticks, 60);
  EXPECT_EQ(snap->attach_mode, "tp_btf");
  ASSERT_EQ(snap->containers.size(), 1u);
  const auto& c = snap->containers[0];
  EXPECT_EQ(c.id, "3f1c");
  EXPECT_EQ(c.tier, "LS");
  EXPECT_EQ(c.cgroup_id, 12345u);
  EXPECT_DOUBLE_EQ(c.usage_cores, 0.53);
  EXPECT_DOUBLE_EQ(c.throttled_pct, 2.1);
  EXPECT_EQ(c.p99_ns, 131072u);
  EXPECT_EQ(c.hist_window, (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(c.waited_behind_lower, 4u);
  EXPECT_EQ(c.waited_behind_lower_delta, 1u);
}

TEST(AgentApi, MissingFieldsKeepDefaults) {
  auto snap = parseContainers(R"({"containers": [{"id": "x"}]})");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->containers.at(0).id, "x");
  EXPECT_EQ(snap->containers.at(0).p50_ns, 0u);
}

TEST(AgentApi, BadInputIsAnErrorNotAnException) {
  EXPECT_FALSE(parseContainers("not json"));
  EXPECT_FALSE(parseContainers("[1,2]"));
  EXPECT_FALSE(parseContainers(R"({"containers": 3})"));
  EXPECT_FALSE(parseContainers(R"({"containers": [{"cgroup_id": "twelve"}]})"));
  EXPECT_FALSE(parseContainers(R"({"containers": [{"cpu": {"usage_cores": "a lot"}}]})"));
}

}  // namespace
}  // namespace colo::cli
