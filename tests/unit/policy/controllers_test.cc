// Controller behaviour, driven through the Engine as colod drives it: snapshots in, plans out.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "agent/policy/engine.h"
#include "agent/policy/window.h"
#include "policy_test_util.h"

namespace colo::policy {
namespace {

using testing::addContainer;
using testing::controllerState;
using testing::find;
using testing::kGiB;
using testing::kSec;
using testing::makeNode;
using testing::tick;

bool contains(const std::vector<int>& v, int cpu) {
  return std::find(v.begin(), v.end(), cpu) != v.end();
}

// ---------------------------------------------------------------- BE CPU suppression

TEST(BeCpuSuppressionTest, BudgetIsCapacityTimesWatermarkMinusLsMinusSystem) {
  auto s = makeNode(16);
  addContainer(s, "ls", Tier::kLS, 4.0);
  addContainer(s, "be", Tier::kBE, 8.0);
  s.system_cpu_usage_cores = 1.0;
  Engine e(PolicyConfig{});
  auto plan = tick(e, s);
  // 16 × 0.65 − 4 − 1 = 5.4 → 5 CPUs (BE's own usage is not subtracted).
  EXPECT_EQ(plan.be_cpus.size(), 5u);
  EXPECT_NEAR(controllerState(e, "be-cpu-suppression")["budget_cores"].get<double>(), 5.4, 1e-9);
  EXPECT_FALSE(plan.be_quota_cores);  // quota off by default

  PolicyConfig cfg;
  cfg.be_cpu.safety_watermark = 0.8;  // 12.8 − 5 = 7.8 → 7
  Engine e2(cfg);
  EXPECT_EQ(tick(e2, s).be_cpus.size(), 7u);
}

TEST(BeCpuSuppressionTest, ShrinksAtOnceGrowsBackByBoundedSteps) {
  auto s = makeNode(16);
  auto& ls = addContainer(s, "ls", Tier::kLS, 4.0);
  s.system_cpu_usage_cores = 1.0;
  Engine e(PolicyConfig{});
  EXPECT_EQ(tick(e, s).be_cpus.size(), 5u);

  ls.cpu_usage_cores = 0;  // budget 9.4: grow 1 CPU per tick
  std::vector<size_t> sizes;
  for (int i = 0; i < 6; ++i) {
    sizes.push_back(tick(e, s).be_cpus.size());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{6, 7, 8, 9, 9, 9}));

  ls.cpu_usage_cores = 6;  // budget 3.4: down in one tick
  EXPECT_EQ(tick(e, s).be_cpus.size(), 3u);

  PolicyConfig cfg;
  cfg.be_cpu.grow_step_cpus = 2;
  Engine e2(cfg);
  ls.cpu_usage_cores = 6;
  EXPECT_EQ(tick(e2, s).be_cpus.size(), 3u);
  ls.cpu_usage_cores = 0;
  sizes.clear();
  for (int i = 0; i < 4; ++i) {
    sizes.push_back(tick(e2, s).be_cpus.size());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{5, 7, 9, 9}));
}

TEST(BeCpuSuppressionTest, NeverBelowTheFloor) {
  auto s = makeNode(16);
  addContainer(s, "ls", Tier::kLS, 40.0);  // budget far below zero
  Engine e(PolicyConfig{});
  auto plan = tick(e, s);
  EXPECT_EQ(plan.be_cpus.size(), 1u);

  PolicyConfig cfg;
  cfg.be_cpu.min_cpus = 3;
  Engine e3(cfg);
  EXPECT_EQ(tick(e3, s).be_cpus.size(), 3u);
}

TEST(BeCpuSuppressionTest, QuotaFollowsTheBudgetWhenEnabled) {
  auto s = makeNode(16);
  auto& ls = addContainer(s, "ls", Tier::kLS, 4.0);
  s.system_cpu_usage_cores = 1.0;
  PolicyConfig cfg;
  cfg.be_cpu.quota_enabled = true;
  Engine e(cfg);
  auto plan = tick(e, s);
  ASSERT_TRUE(plan.be_quota_cores);
  EXPECT_NEAR(*plan.be_quota_cores, 5.0, 1e-9);  // budget 5.4, capped by the 5-CPU cpuset
  ls.cpu_usage_cores = 3.0;                      // budget 6.4: +0.5 core per tick at most
  plan = tick(e, s);
  EXPECT_NEAR(*plan.be_quota_cores, 5.9, 1e-9);
  plan = tick(e, s);
  EXPECT_NEAR(*plan.be_quota_cores, 6.0, 1e-9);  // the cpuset grew to 6 meanwhile
}

TEST(BeCpuSuppressionTest, IdleModeSpansEveryCandidateUnderTheWatermark) {
  auto s = makeNode(16);
  auto& ls = addContainer(s, "ls", Tier::kLS, 4.0);
  s.system_cpu_usage_cores = 1.0;
  s.be_idle_class = true;  // the backend gives BE cpu.idle: auto resolves to idle mode
  Engine e(PolicyConfig{});
  // Budget 5.4 >= 0: LS + system (5) are under 16 × 0.65, and SCHED_IDLE BE only takes idle
  // time, so BE spans all 16 candidates instead of the budget's 5.
  EXPECT_EQ(tick(e, s).be_cpus.size(), 16u);
  EXPECT_EQ(controllerState(e, "be-cpu-suppression")["mode"], "idle");
  EXPECT_NEAR(controllerState(e, "be-cpu-suppression")["budget_cores"].get<double>(), 5.4, 1e-9);

  ls.cpu_usage_cores = 12;  // over the watermark: the budget (< 0) applies, floor 1, at once
  EXPECT_EQ(tick(e, s).be_cpus.size(), 1u);
  ls.cpu_usage_cores = 4;  // back under it: grows by grow_step_cpus per tick, not at once
  EXPECT_EQ(tick(e, s).be_cpus.size(), 2u);
  EXPECT_EQ(tick(e, s).be_cpus.size(), 3u);

  // budget forces the watermark budget even where BE is idle-class.
  PolicyConfig budget;
  budget.be_cpu.mode = BeCpuMode::kBudget;
  Engine eb(budget);
  EXPECT_EQ(tick(eb, s).be_cpus.size(), 5u);
  EXPECT_EQ(controllerState(eb, "be-cpu-suppression")["mode"], "budget");

  // auto without cpu.idle is budget mode; idle mode can be forced.
  s.be_idle_class = false;
  Engine ea(PolicyConfig{});
  EXPECT_EQ(tick(ea, s).be_cpus.size(), 5u);
  PolicyConfig idle;
  idle.be_cpu.mode = BeCpuMode::kIdle;
  Engine ei(idle);
  EXPECT_EQ(tick(ei, s).be_cpus.size(), 16u);
}

TEST(BeCpuSuppressionTest, IdleModeStillYieldsToTheLatencyGuard) {
  auto s = makeNode(16);
  auto& ls = addContainer(s, "ls", Tier::kLS, 2.0);
  s.be_idle_class = true;
  Engine e(PolicyConfig{});
  EXPECT_EQ(tick(e, s).be_cpus.size(), 16u);
  ls.runq_p99_ns = 8'000'000;  // 1.6× the 5 ms LS threshold, every tick
  size_t last = 16;
  for (int i = 0; i < 12; ++i) {
    last = tick(e, s).be_cpus.size();
  }
  EXPECT_EQ(last, 1u) << "the guard squeezes BE to the floor in idle mode too";
  EXPECT_TRUE(e.latencyGuardActive());
}

// ---------------------------------------------------------------- latency guard

// 16 CPUs, no LS usage: suppression alone gives BE 10 CPUs.
struct GuardNode {
  NodeSnapshot s = makeNode(16);
  ContainerSample* ls;
  GuardNode() { ls = &addContainer(s, "ls", Tier::kLS, 0.0); }
  void p99Ms(double ms) { ls->runq_p99_ns = static_cast<uint64_t>(ms * 1e6); }
};

TEST(LatencyGuardTest, OneSpikeDoesNotFire) {
  GuardNode n;
  Engine e(PolicyConfig{});
  n.p99Ms(1);
  EXPECT_EQ(tick(e, n.s).be_cpus.size(), 10u);
  n.p99Ms(50);  // 10× the LS threshold, once
  EXPECT_EQ(tick(e, n.s).be_cpus.size(), 10u);
  n.p99Ms(1);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(tick(e, n.s).be_cpus.size(), 10u) << "tick " << i;
  }
  EXPECT_EQ(controllerState(e, "latency-guard")["squeezes"], 0);

  // Not even as the very first sample the guard sees.
  GuardNode fresh;
  Engine e2(PolicyConfig{});
  fresh.p99Ms(50);
  EXPECT_EQ(tick(e2, fresh.s).be_cpus.size(), 10u);
  fresh.p99Ms(1);
  EXPECT_EQ(tick(e2, fresh.s).be_cpus.size(), 10u);
  EXPECT_FALSE(e2.latencyGuardActive());
}

TEST(LatencyGuardTest, SustainedPressureSqueezesMultiplicativelyToTheFloor) {
  GuardNode n;
  Engine e(PolicyConfig{});
  n.p99Ms(8);  // 1.6× the 5 ms LS threshold, every tick
  std::vector<size_t> sizes;
  for (int i = 0; i < 11; ++i) {
    sizes.push_back(tick(e, n.s).be_cpus.size());
    EXPECT_EQ(e.latencyGuardActive(), i >= 7) << "tick " << i;
  }
  // Window of 10 starts at zero; p30 is over once 8 of 10 samples are: tick 8 fires. Each
  // firing tick halves the limit (floor), down to min_cpus.
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 10, 10, 10, 10, 10, 10, 5, 2, 1, 1}));
  EXPECT_EQ(controllerState(e, "latency-guard")["state"], "squeezing");
}

TEST(LatencyGuardTest, ReleasesAdditivelyAfterHoldingCalm) {
  GuardNode n;
  Engine e(PolicyConfig{});
  n.p99Ms(8);
  for (int i = 0; i < 10; ++i) {
    tick(e, n.s);
  }
  ASSERT_EQ(e.lastPlan()->be_cpus.size(), 1u);
  n.p99Ms(1);
  std::vector<size_t> sizes;
  for (int i = 0; i < 40; ++i) {
    sizes.push_back(tick(e, n.s).be_cpus.size());
  }
  // Calm needs p90 of the window under 0.8 (9 calm samples), then 5 calm ticks of hold.
  size_t first_up =
      std::find_if(sizes.begin(), sizes.end(), [](size_t v) { return v > 1; }) - sizes.begin();
  // Tick 9 is the first calm one (9 of 10 samples under), tick 13 the fifth: index 12.
  EXPECT_EQ(first_up, 12u);
  for (size_t i = 1; i < sizes.size(); ++i) {
    EXPECT_GE(sizes[i], sizes[i - 1]);
    EXPECT_LE(sizes[i] - sizes[i - 1], 1u) << "additive: one CPU per tick at most";
  }
  EXPECT_EQ(sizes.back(), 10u);
  EXPECT_EQ(controllerState(e, "latency-guard")["state"], "idle");
}

int directionChanges(const std::vector<size_t>& sizes) {
  int changes = 0;
  int last_dir = 0;
  for (size_t i = 1; i < sizes.size(); ++i) {
    int dir = sizes[i] > sizes[i - 1] ? 1 : sizes[i] < sizes[i - 1] ? -1 : 0;
    if (dir != 0) {
      if (last_dir != 0 && dir != last_dir) {
        changes++;
      }
      last_dir = dir;
    }
  }
  return changes;
}

// LS run-queue p99 as a function of the BE cpuset: crosses the 5 ms threshold at 10 BE CPUs,
// with noise. Returns the BE cpuset sizes over 200 ticks.
std::vector<size_t> simulatePlant(const PolicyConfig& cfg, int ticks = 200) {
  GuardNode n;
  Engine e(cfg);
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> noise(-0.05, 0.05);
  std::vector<size_t> sizes;
  size_t be = 10;
  for (int i = 0; i < ticks; ++i) {
    double ratio = 0.5 + 0.06 * static_cast<double>(be) + noise(rng);
    n.p99Ms(5.0 * ratio);
    be = tick(e, n.s).be_cpus.size();
    sizes.push_back(be);
  }
  return sizes;
}

TEST(LatencyGuardTest, HysteresisNoOscillationAroundTheThreshold) {
  // A signal hovering at the threshold (±10 %) by itself, 200 ticks.
  {
    GuardNode n;
    Engine e(PolicyConfig{});
    std::mt19937 rng(1);
    std::uniform_real_distribution<double> hover(0.9, 1.1);
    std::vector<size_t> sizes;
    for (int i = 0; i < 200; ++i) {
      n.p99Ms(5.0 * hover(rng));
      sizes.push_back(tick(e, n.s).be_cpus.size());
    }
    EXPECT_LE(directionChanges(sizes), 2);
  }
  // A closed loop whose latency hovers at the threshold as BE grows back.
  auto with = simulatePlant(PolicyConfig{});
  EXPECT_LE(directionChanges(with), 2);
  EXPECT_LT(with.back(), 10u);  // it did squeeze

  // The same loop without hysteresis (fire on any over tick, release as soon as under)
  // oscillates: the count above is not trivially zero.
  PolicyConfig naive;
  naive.latency_guard.trigger_percentile = 100;
  naive.latency_guard.release_ratio = 1.0;
  naive.latency_guard.release_hold_ticks = 1;
  auto without = simulatePlant(naive);
  EXPECT_GE(directionChanges(without), 6);
}

TEST(LatencyGuardTest, RingBufferEventsSqueezeBetweenTicks) {
  GuardNode n;
  Engine e(PolicyConfig{});
  n.p99Ms(1);
  tick(e, n.s);
  ASSERT_EQ(e.lastPlan()->be_cpus.size(), 10u);
  int64_t t = n.s.now_ns + 1000000;  // 1 ms after the tick
  // Under the threshold, or from BE: ignored.
  EXPECT_FALSE(e.onLatencyEvent(Tier::kLS, 1000000, t));
  EXPECT_FALSE(e.onLatencyEvent(Tier::kBE, 90000000, t));
  // events_to_fire = 3 within 100 ms.
  EXPECT_FALSE(e.onLatencyEvent(Tier::kLS, 6000000, t));
  EXPECT_FALSE(e.onLatencyEvent(Tier::kLS, 6000000, t + 10000000));
  auto plan = e.onLatencyEvent(Tier::kLS, 6000000, t + 20000000);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->be_cpus.size(), 5u);
  ASSERT_FALSE(plan->reasons.empty());
  EXPECT_NE(plan->reasons[0].find("latency-guard"), std::string::npos);
  EXPECT_EQ(e.lastPlan()->be_cpus.size(), 5u);
  // At most one event squeeze per 200 ms.
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(e.onLatencyEvent(Tier::kLS, 6000000, t + 30000000 + i * 1000000));
  }
  plan = e.onLatencyEvent(Tier::kLSX, 2000000, t + 230000000);
  EXPECT_FALSE(plan);  // first of a new burst
  e.onLatencyEvent(Tier::kLSX, 2000000, t + 231000000);
  plan = e.onLatencyEvent(Tier::kLSX, 2000000, t + 232000000);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->be_cpus.size(), 2u);
  // The next tick keeps the squeezed limit (calm must hold before release).
  EXPECT_EQ(tick(e, n.s).be_cpus.size(), 2u);
}

TEST(LatencyGuardTest, CollectorFractionOfTicksOverThresholdStandsInForTheWindow) {
  GuardNode n;
  Engine e(PolicyConfig{});
  n.p99Ms(8);
  n.ls->runq_over_threshold_fraction = 0.5;  // half the recent ticks: not sustained
  EXPECT_EQ(tick(e, n.s).be_cpus.size(), 10u);
  n.ls->runq_over_threshold_fraction = 0.9;  // >= 1 − 30 %: sustained, fire now
  EXPECT_EQ(tick(e, n.s).be_cpus.size(), 5u);
}

TEST(WindowTest, NearestRankPercentilesOverTheLastSamples) {
  Window w(4);
  EXPECT_EQ(w.percentile(50), 0);
  for (double v : {10.0, 1.0, 7.0, 3.0, 5.0}) {  // 10 falls out
    w.push(v);
  }
  EXPECT_EQ(w.size(), 4u);
  EXPECT_EQ(w.last(), 5.0);
  EXPECT_EQ(w.percentile(0), 1.0);
  EXPECT_EQ(w.percentile(25), 1.0);
  EXPECT_EQ(w.percentile(30), 3.0);
  EXPECT_EQ(w.percentile(50), 3.0);
  EXPECT_EQ(w.percentile(100), 7.0);
  EXPECT_EQ(w.max(), 7.0);
  EXPECT_DOUBLE_EQ(w.fractionAbove(4.0), 0.5);
}

// ---------------------------------------------------------------- LSR borrowing

struct LsrNode {
  NodeSnapshot s = makeNode(8);
  ContainerSample* lsr;
  PolicyConfig cfg;
  LsrNode() {
    lsr = &addContainer(s, "r", Tier::kLSR, 0.0, 2.0);  // reserved CPUs {6, 7}
    addContainer(s, "l", Tier::kLS, 0.5);
    cfg.be_cpu.safety_watermark = 1.0;  // budget 7.5: BE wants more than the shared pool
    cfg.be_cpu.grow_step_cpus = 8;
  }
};

TEST(LsrBorrowTest, BorrowedOnlyAfterIdleTicksAndTakenBackAtOnce) {
  LsrNode n;
  Engine e(n.cfg);
  // Busy LSR (0.5 > 0.1 × 2 cores): never lent.
  n.lsr->cpu_usage_cores = 0.5;
  for (int i = 0; i < 10; ++i) {
    auto plan = tick(e, n.s);
    EXPECT_FALSE(contains(plan.be_cpus, 6) || contains(plan.be_cpus, 7));
    EXPECT_EQ(plan.pools.lsr, (std::vector<int>{6, 7}));
  }
  // Idle: lent after lsr_idle_ticks (3).
  n.lsr->cpu_usage_cores = 0.05;
  EXPECT_FALSE(contains(tick(e, n.s).be_cpus, 6));
  EXPECT_FALSE(contains(tick(e, n.s).be_cpus, 6));
  auto plan = tick(e, n.s);
  EXPECT_TRUE(contains(plan.be_cpus, 6) && contains(plan.be_cpus, 7));
  EXPECT_EQ(plan.be_cpus.size(), 7u);
  EXPECT_EQ(controllerState(e, "lsr-borrow")["state"], "lending");
  // Busy again: back on the same tick, no gradual step.
  n.lsr->cpu_usage_cores = 1.0;
  plan = tick(e, n.s);
  EXPECT_FALSE(contains(plan.be_cpus, 6) || contains(plan.be_cpus, 7));
  EXPECT_EQ(plan.be_cpus.size(), 6u);
}

TEST(LsrBorrowTest, LsrLatencyEventTakesLentCpusBackBetweenTicks) {
  LsrNode n;
  Engine e(n.cfg);
  for (int i = 0; i < 3; ++i) {
    tick(e, n.s);
  }
  ASSERT_TRUE(contains(e.lastPlan()->be_cpus, 7));
  auto plan = e.onLatencyEvent(Tier::kLSR, 3000000, n.s.now_ns + 5000000);
  ASSERT_TRUE(plan);
  EXPECT_FALSE(contains(plan->be_cpus, 6) || contains(plan->be_cpus, 7));
  // Lending starts over: three idle ticks again.
  EXPECT_FALSE(contains(tick(e, n.s).be_cpus, 7));
  EXPECT_FALSE(contains(tick(e, n.s).be_cpus, 7));
  EXPECT_TRUE(contains(tick(e, n.s).be_cpus, 7));
}

// ---------------------------------------------------------------- LS throttle relief

TEST(ThrottleReliefTest, BurstGrantedWhileThrottledThenReverted) {
  auto s = makeNode(8);
  auto& ls = addContainer(s, "web", Tier::kLS, 1.9, 1.0, 2.0);
  addContainer(s, "batch", Tier::kBE, 4.0, std::nullopt, 2.0);
  s.containers[1].throttled_ratio = 0.9;  // BE throttling is nobody's business here
  Engine e(PolicyConfig{});
  ls.throttled_ratio = 0.4;
  EXPECT_TRUE(tick(e, s).ls_burst_us.empty());  // trigger_ticks = 2
  auto plan = tick(e, s);
  ASSERT_EQ(plan.ls_burst_us.size(), 1u);
  EXPECT_EQ(plan.ls_burst_us.at("web"), 200000u);  // 2 cores × 100 ms period
  EXPECT_TRUE(plan.ls_limit_cores.empty());

  // Burst works: no throttling, usage still high → relief stays.
  ls.throttled_ratio = 0;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(tick(e, s).ls_burst_us.count("web"), 1u);
  }
  // Load drops under 0.8 × limit: reverted after 5 calm ticks.
  ls.cpu_usage_cores = 0.5;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(tick(e, s).ls_burst_us.count("web"), 1u);
  }
  plan = tick(e, s);
  EXPECT_TRUE(plan.ls_burst_us.empty());
  EXPECT_EQ(controllerState(e, "ls-throttle-relief")["reverts"], 1);
}

TEST(ThrottleReliefTest, LimitModeRaisesWithinBoundThenReverts) {
  auto s = makeNode(8);
  auto& ls = addContainer(s, "web", Tier::kLSR, 2.0, 1.0, 2.0);
  PolicyConfig cfg;
  cfg.throttle_relief.mode = ReliefMode::kLimit;
  cfg.throttle_relief.trigger_ticks = 1;
  Engine e(cfg);
  ls.throttled_ratio = 0.5;
  std::vector<double> limits;
  for (int i = 0; i < 8; ++i) {
    auto plan = tick(e, s);
    ASSERT_EQ(plan.ls_limit_cores.count("web"), 1u);
    limits.push_back(plan.ls_limit_cores.at("web"));
    EXPECT_TRUE(plan.ls_burst_us.empty());
  }
  EXPECT_NEAR(limits[0], 2.2, 1e-9);
  EXPECT_NEAR(limits[1], 2.4, 1e-9);
  EXPECT_NEAR(limits.back(), 3.0, 1e-9);  // max_limit_ratio 1.5 × 2
  // The collector now reports the raised limit; the original is what relief is measured from.
  find(s, "web")->cpu_limit_cores = 3.0;
  ls.throttled_ratio = 0;
  ls.cpu_usage_cores = 0.3;
  kmods::EnforcementPlan plan;
  for (int i = 0; i < 5; ++i) {
    plan = tick(e, s);
  }
  EXPECT_TRUE(plan.ls_limit_cores.empty());
}

// ---------------------------------------------------------------- BE memory guard

TEST(BeMemoryGuardTest, CapsUnderPressureAndReleasesWhenItEnds) {
  auto s = makeNode(8);
  s.memory_total_bytes = 100 * kGiB;
  s.memory_available_bytes = 50 * kGiB;
  auto& be = addContainer(s, "batch", Tier::kBE, 1.0);
  be.memory_usage_bytes = 20 * kGiB;
  Engine e(PolicyConfig{});
  EXPECT_FALSE(tick(e, s).be_memory_high_bytes);

  s.memory_available_bytes = 5 * kGiB;  // 5 % free < 10 % watermark; deficit 5 GiB
  auto plan = tick(e, s);
  ASSERT_TRUE(plan.be_memory_high_bytes);
  // 20 GiB × 0.95 − 5 GiB = 14 GiB
  EXPECT_NEAR(static_cast<double>(*plan.be_memory_high_bytes) / kGiB, 14.0, 1e-6);
  be.memory_usage_bytes = 14 * kGiB;
  s.memory_available_bytes = 9 * kGiB;  // still under: 14 × 0.95 − 1 = 12.3 GiB
  plan = tick(e, s);
  EXPECT_NEAR(static_cast<double>(*plan.be_memory_high_bytes) / kGiB, 12.3, 1e-6);
  EXPECT_EQ(controllerState(e, "be-memory-guard")["state"], "capping");

  // 12 % free: between the watermarks, hold.
  s.memory_available_bytes = 12 * kGiB;
  uint64_t held = *tick(e, s).be_memory_high_bytes;
  EXPECT_NEAR(static_cast<double>(held) / kGiB, 12.3, 1e-6);

  // Calm (30 % free): 5 ticks of hold, then + 5 GiB per tick, then gone.
  s.memory_available_bytes = 30 * kGiB;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(*tick(e, s).be_memory_high_bytes, held);
  }
  uint64_t prev = held;
  int ticks = 0;
  while (true) {
    plan = tick(e, s);
    ticks++;
    ASSERT_LT(ticks, 100);
    if (!plan.be_memory_high_bytes) {
      break;
    }
    EXPECT_NEAR(static_cast<double>(*plan.be_memory_high_bytes - prev) / kGiB, 5.0, 1e-6);
    prev = *plan.be_memory_high_bytes;
  }
  EXPECT_EQ(controllerState(e, "be-memory-guard")["releases"], 1);
}

TEST(BeMemoryGuardTest, PsiAloneIsPressureAndTheCapHasAFloor) {
  auto s = makeNode(8);
  auto& be = addContainer(s, "batch", Tier::kBE, 1.0);
  be.memory_usage_bytes = 100ull << 20;  // 100 MiB, under the 256 MiB floor
  s.memory_psi_some_avg10 = 25.0;
  Engine e(PolicyConfig{});
  auto plan = tick(e, s);
  ASSERT_TRUE(plan.be_memory_high_bytes);
  EXPECT_EQ(*plan.be_memory_high_bytes, 256ull << 20);
}

}  // namespace
}  // namespace colo::policy
