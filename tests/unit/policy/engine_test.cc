// Engine-level behaviour: freeze and resume, tier isolation over random runs, BE capacity terms,
// profiles, and what /v1/controllers, /v1/node and /metrics show.
#include "agent/policy/engine.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "policy_test_util.h"

namespace colo::policy {
namespace {

using testing::addContainer;
using testing::controllerState;
using testing::kGiB;
using testing::kSec;
using testing::makeNode;
using testing::tick;

bool hasLine(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

// ---------------------------------------------------------------- freeze

struct FreezeCase {
  const char* name;
  void (*breakIt)(NodeSnapshot&);
  void (*fixIt)(NodeSnapshot&);
  const char* reason;
};

class FreezeTest : public ::testing::TestWithParam<FreezeCase> {};

TEST_P(FreezeTest, ChangesNothingSaysWhyAndResumes) {
  const auto& fc = GetParam();
  auto s = makeNode(16);
  auto& ls = addContainer(s, "ls", Tier::kLS, 4.0);
  Engine e(PolicyConfig{});
  auto before = tick(e, s);
  EXPECT_EQ(before.be_cpus.size(), 6u);  // 10.4 − 4
  auto supp_before = controllerState(e, "be-cpu-suppression");

  fc.breakIt(s);
  ls.cpu_usage_cores = 0;  // would grow BE if the engine acted
  for (int i = 0; i < 5; ++i) {
    s.now_ns += kSec;
    EXPECT_FALSE(e.onTick(s)) << fc.name;
  }
  // Events change nothing either.
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(e.onLatencyEvent(Tier::kLS, 50000000, s.now_ns + i));
  }
  auto st = e.status();
  EXPECT_TRUE(st.frozen);
  ASSERT_FALSE(st.freeze_reasons.empty());
  EXPECT_NE(st.freeze_reasons[0].find(fc.reason), std::string::npos) << st.freeze_reasons[0];
  EXPECT_EQ(st.freezes, 1u);
  EXPECT_EQ(controllerState(e, "be-cpu-suppression"), supp_before);
  EXPECT_EQ(e.lastPlan()->be_cpus, before.be_cpus);
  auto metrics = e.prometheusText();
  EXPECT_TRUE(hasLine(metrics, "colo_policy_frozen 1"));
  EXPECT_NE(metrics.find("colo_policy_freeze_reason{reason=\""), std::string::npos);
  EXPECT_EQ(e.statusJson()["frozen"], true);

  // Recovered: one healthy tick is not enough (resume_after_ticks = 2).
  fc.fixIt(s);
  s.now_ns += kSec;
  EXPECT_FALSE(e.onTick(s));
  auto plan = tick(e, s);
  EXPECT_FALSE(e.status().frozen);
  EXPECT_TRUE(hasLine(e.prometheusText(), "colo_policy_frozen 0"));
  EXPECT_EQ(plan.reasons.front(), "engine: resumed after a freeze");
  EXPECT_EQ(plan.be_cpus.size(), 7u);  // grows again, one step from where it stood
}

INSTANTIATE_TEST_SUITE_P(
    Causes, FreezeTest,
    ::testing::Values(FreezeCase{"stale", [](NodeSnapshot& s) { s.signals[1].age_ns = 30 * kSec; },
                                 [](NodeSnapshot& s) { s.signals[1].age_ns = 0; },
                                 "bpf-stats stale"},
                      FreezeCase{"read-failures",
                                 [](NodeSnapshot& s) { s.signals[0].consecutive_failures = 3; },
                                 [](NodeSnapshot& s) { s.signals[0].consecutive_failures = 0; },
                                 "cpu.stat: 3 reads failed"},
                      FreezeCase{"cgroupfs",
                                 [](NodeSnapshot& s) {
                                   s.cgroupfs_writable = false;
                                   s.cgroupfs_error = "EROFS";
                                 },
                                 [](NodeSnapshot& s) { s.cgroupfs_writable = true; },
                                 "cgroupfs not writable: EROFS"}),
    [](const auto& info) {
      std::string n = info.param.name;
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

TEST(FreezeTest, FewerFailuresThanTheLimitDoNotFreeze) {
  auto s = makeNode(4);
  s.signals[0].consecutive_failures = 2;
  s.signals[0].age_ns = 4 * kSec;
  Engine e(PolicyConfig{});
  tick(e, s);
  EXPECT_FALSE(e.status().frozen);
}

TEST(FreezeTest, ClockGoingBackwardsFreezes) {
  auto s = makeNode(4);
  Engine e(PolicyConfig{});
  tick(e, s);
  s.now_ns -= 5 * kSec;
  EXPECT_FALSE(e.onTick(s));
  ASSERT_FALSE(e.status().freeze_reasons.empty());
  EXPECT_EQ(e.status().freeze_reasons[0], "snapshot time went backwards");
}

// ---------------------------------------------------------------- tier isolation

TEST(EngineTest, LsxCoresNeverInBeCpusOverRandomRuns) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  auto s = makeNode(32, /*smt=*/true);
  addContainer(s, "x1", Tier::kLSX, 1, 2.0);
  addContainer(s, "x2", Tier::kLSX, 1, 3.0);
  addContainer(s, "r1", Tier::kLSR, 1, 2.0);
  for (int i = 0; i < 10; ++i) {
    addContainer(s, "ls" + std::to_string(i), Tier::kLS, 0.5);
    addContainer(s, "be" + std::to_string(i), Tier::kBE, 1.0);
  }
  PolicyConfig cfg;
  cfg.be_cpu.min_cpus = 2;
  cfg.pools.be_dedicated_cpus = 2;
  Engine e(cfg);
  int lent_seen = 0;
  for (int t = 0; t < 300; ++t) {
    for (auto& c : s.containers) {
      // LSR mostly idle, so its CPUs are lent (and taken back) during the run; run-queue
      // delays mostly fine with bursts that make the guard squeeze now and then.
      bool lsr = c.tier == Tier::kLSR;
      c.cpu_usage_cores = u(rng) * (lsr ? 0.25 : 2.0);
      c.runq_p99_ns = u(rng) < 0.85 ? 100000 : 20000000;
    }
    if (t == 100) {
      addContainer(s, "x3", Tier::kLSX, 1, 1.0);  // arrives mid-run
    }
    auto plan = tick(e, s);
    double r = u(rng);
    for (int i = 0; i < 3 && r < 0.2; ++i) {
      // A burst of events: LS ones squeeze BE, LSR ones take lent CPUs back.
      auto ev =
          e.onLatencyEvent(r < 0.1 ? Tier::kLS : Tier::kLSR, 9000000, s.now_ns + 1000000 * (i + 1));
      if (ev) {
        plan = *ev;
      }
    }
    std::set<int> lsx(plan.pools.lsx.begin(), plan.pools.lsx.end());
    std::set<int> lsr(plan.pools.lsr.begin(), plan.pools.lsr.end());
    ASSERT_GE(plan.be_cpus.size(), 2u) << "tick " << t;
    for (int cpu : plan.be_cpus) {
      ASSERT_FALSE(lsx.contains(cpu)) << "LSX CPU " << cpu << " in be_cpus at tick " << t;
      lent_seen += lsr.contains(cpu) ? 1 : 0;
    }
    // Whole cores: a sibling of an LSX CPU is LSX too.
    for (int cpu : lsx) {
      ASSERT_TRUE(lsx.contains(cpu < 16 ? cpu + 16 : cpu - 16));
    }
    for (int cpu : plan.pools.be) {
      ASSERT_TRUE(std::find(plan.be_cpus.begin(), plan.be_cpus.end(), cpu) != plan.be_cpus.end());
    }
  }
  // The run did exercise LSR lending, revocation and event squeezes.
  EXPECT_GT(lent_seen, 0);
  EXPECT_GT(controllerState(e, "lsr-borrow")["revocations"].get<int>(), 0);
  EXPECT_GT(controllerState(e, "latency-guard")["event_squeezes"].get<int>(), 0);
}

// ---------------------------------------------------------------- BE capacity

TEST(CapacityTest, TermsAddUpAndPeaksComeFromTheWindow) {
  auto s = makeNode(16);
  s.memory_total_bytes = 100 * kGiB;
  s.memory_available_bytes = 60 * kGiB;
  auto& ls = addContainer(s, "ls", Tier::kLS, 6.0);
  ls.memory_usage_bytes = 20 * kGiB;
  auto& x = addContainer(s, "x", Tier::kLSX, 0.5, 2.0);
  x.memory_usage_bytes = 2 * kGiB;
  auto& be = addContainer(s, "be", Tier::kBE, 3.0);
  be.memory_usage_bytes = 10 * kGiB;
  s.system_cpu_usage_cores = 1.0;
  PolicyConfig cfg;
  cfg.capacity.window_ticks = 3;
  cfg.capacity.ot_ratio = 2.0;
  Engine e(cfg);
  tick(e, s);
  const BeCapacity& c = e.capacity();
  EXPECT_DOUBLE_EQ(c.capacity_cores, 16);
  EXPECT_DOUBLE_EQ(c.safety_margin_cores, 16 * 0.35);
  EXPECT_DOUBLE_EQ(c.ls_usage_peak_cores, 6.5);  // LS + LSX
  EXPECT_DOUBLE_EQ(c.system_usage_peak_cores, 1.0);
  EXPECT_DOUBLE_EQ(c.lsx_reserved_cores, 2);
  EXPECT_DOUBLE_EQ(c.lsx_idle_cores, 1.5);
  double raw = 16 - 16 * 0.35 - 6.5 - 1.0 - 1.5;
  EXPECT_NEAR(c.be_cpu_raw_cores, raw, 1e-9);
  EXPECT_EQ(c.be_cpu_millicores, static_cast<int64_t>(std::floor(raw * 1000 + 1e-6)));
  EXPECT_EQ(c.ot_cpu_millicores, c.be_cpu_millicores * 2);
  // Memory: 100 − 15 (margin at 0.85) − 22 (LS + LSX) − system (40 used − 32 in containers).
  EXPECT_EQ(c.safety_margin_bytes, 15 * kGiB);
  EXPECT_EQ(c.ls_memory_peak_bytes, 22 * kGiB);
  EXPECT_EQ(c.system_memory_peak_bytes, 8 * kGiB);
  EXPECT_EQ(c.be_memory_bytes, 55 * kGiB);
  EXPECT_EQ(static_cast<int64_t>(c.be_memory_bytes), c.be_memory_raw_bytes);

  // The LS peak holds for the window (3 ticks), then follows the usage down.
  ls.cpu_usage_cores = 2.0;
  tick(e, s);
  EXPECT_DOUBLE_EQ(e.capacity().ls_usage_peak_cores, 6.5);
  tick(e, s);
  EXPECT_DOUBLE_EQ(e.capacity().ls_usage_peak_cores, 6.5);
  tick(e, s);
  EXPECT_DOUBLE_EQ(e.capacity().ls_usage_peak_cores, 2.5);

  // Overloaded: clamped at zero, the raw figure stays visible.
  ls.cpu_usage_cores = 14;
  tick(e, s);
  EXPECT_LT(e.capacity().be_cpu_raw_cores, 0);
  EXPECT_EQ(e.capacity().be_cpu_millicores, 0);
  EXPECT_EQ(e.capacity().ot_cpu_millicores, 0);
}

TEST(CapacityTest, ExposedInNodeJsonAndMetrics) {
  auto s = makeNode(8);
  addContainer(s, "ls", Tier::kLS, 2.0);
  Engine e(PolicyConfig{});
  tick(e, s);
  auto node = e.nodeJson();
  const auto& c = e.capacity();
  EXPECT_EQ(node["capacity"]["be_cpu_millicores"], c.be_cpu_millicores);
  for (const char* term :
       {"capacity_cores", "safety_margin_cores", "ls_usage_peak_cores", "system_usage_peak_cores",
        "lsx_idle_cores", "capacity_bytes", "safety_margin_bytes", "ls_memory_peak_bytes",
        "system_memory_peak_bytes", "ot_ratio"}) {
    EXPECT_TRUE(node["capacity"]["terms"].contains(term)) << term;
  }
  auto m = e.prometheusText();
  EXPECT_TRUE(hasLine(m, fmt::format("colo_be_cpu_millicores {}", c.be_cpu_millicores)));
  EXPECT_TRUE(hasLine(m, "colo_be_capacity_term{term=\"ls_usage_peak_cores\"} 2"));
  EXPECT_TRUE(hasLine(m, "colo_be_capacity_term{term=\"capacity_cores\"} 8"));
  EXPECT_TRUE(hasLine(m, "colo_policy_frozen 0"));
  EXPECT_TRUE(
      hasLine(m, "colo_policy_controller_state{controller=\"latency-guard\",state=\"idle\"} 1"));
  EXPECT_NE(m.find("colo_policy_controller_gauge{controller=\"be-cpu-suppression\",name="
                   "\"budget_cores\"}"),
            std::string::npos);
}

// ---------------------------------------------------------------- profiles

TEST(ProfileTest, RecommendedRequestIsPeriodicUsageOverWatermark) {
  auto s = makeNode(8);
  auto& c = addContainer(s, "web", Tier::kLS, 0, 4.0);
  addContainer(s, "gone", Tier::kBE, 1.0);
  PolicyConfig cfg;
  cfg.profile.window_ticks = 100;
  Engine e(cfg);
  // Usage 0.01 .. 1.00 cores in shuffled order: p95 over the window is 0.95.
  std::vector<int> order(100);
  for (int i = 0; i < 100; ++i) {
    order[i] = i + 1;
  }
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  for (int v : order) {
    c.cpu_usage_cores = v / 100.0;
    tick(e, s);
  }
  auto p = e.profile("web");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->samples, 100u);
  EXPECT_DOUBLE_EQ(p->cpu_p95, 0.95);
  EXPECT_DOUBLE_EQ(p->cpu_p50, 0.50);
  EXPECT_DOUBLE_EQ(p->cpu_max, 1.00);
  EXPECT_DOUBLE_EQ(p->periodic_usage_cores, 0.95);
  EXPECT_NEAR(p->recommended_request_cores, 0.95 / 0.65, 1e-12);
  auto j = e.profilesJson();
  EXPECT_NEAR(j["web"]["recommended_request_cores"].get<double>(), 0.95 / 0.65, 1e-12);
  EXPECT_EQ(j["web"]["request_cores"], 4.0);

  // The window slides: 100 more ticks at 0.2 replace everything.
  c.cpu_usage_cores = 0.2;
  for (int i = 0; i < 100; ++i) {
    tick(e, s);
  }
  EXPECT_NEAR(e.profile("web")->recommended_request_cores, 0.2 / 0.65, 1e-12);

  // A container that leaves the snapshot leaves the profiles.
  s.containers.pop_back();
  tick(e, s);
  EXPECT_FALSE(e.profile("gone"));
}

// ---------------------------------------------------------------- status

TEST(EngineTest, StatusShowsEveryControllerAndThePlanReasons) {
  auto s = makeNode(16);
  auto& ls = addContainer(s, "ls", Tier::kLS, 1.0);
  Engine e(PolicyConfig{});
  tick(e, s);
  ls.cpu_usage_cores = 6.0;
  auto plan = tick(e, s);
  ASSERT_FALSE(plan.reasons.empty());
  EXPECT_NE(plan.reasons[0].find("be-cpu-suppression"), std::string::npos);
  auto j = e.statusJson();
  std::set<std::string> names;
  for (const auto& c : j["controllers"]) {
    names.insert(c["name"].get<std::string>());
    EXPECT_TRUE(c.contains("state"));
  }
  EXPECT_EQ(names, (std::set<std::string>{"be-cpu-suppression", "latency-guard", "lsr-borrow",
                                          "ls-throttle-relief", "be-memory-guard"}));
  EXPECT_EQ(j["frozen"], false);
  EXPECT_EQ(j["be_cpus"].size(), plan.be_cpus.size());
  EXPECT_EQ(j["pools"]["shared"].size(), 16u);
  EXPECT_EQ(plan.cgroups.size(), 1u);
  EXPECT_EQ(plan.cgroups[0].cgroup, "/kubepods/ls");
}

TEST(EngineTest, PlanCarriesTheBeTaskSlice) {
  auto s = makeNode(4);
  addContainer(s, "be", Tier::kBE, 0.5);
  Engine off(PolicyConfig{});
  EXPECT_EQ(tick(off, s).be_task_slice_ns, 0u);  // opt-in
  PolicyConfig on;
  on.be_cpu.task_slice_us = 100000;
  Engine e(on);
  EXPECT_EQ(tick(e, s).be_task_slice_ns, 100'000'000u);
}

TEST(EngineTest, NoEventPlanBeforeTheFirstTick) {
  Engine e(PolicyConfig{});
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(e.onLatencyEvent(Tier::kLS, 90000000, i));
  }
}

}  // namespace
}  // namespace colo::policy
