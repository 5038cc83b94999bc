#include "agent/node_stats.h"

#include <gtest/gtest.h>

#include "agent/enforcer.h"

namespace colo::agent {
namespace {

constexpr int64_t kSec = 1'000'000'000;

const char* kMemInfo =
    "MemTotal:        8000000 kB\n"
    "MemFree:          100000 kB\n"
    "MemAvailable:    2000000 kB\n"
    "Buffers:            1000 kB\n";

// /proc/stat with `busy` ticks spread over user/system and `idle` idle ticks.
std::string procStat(uint64_t user, uint64_t system, uint64_t idle) {
  return "cpu  " + std::to_string(user) + " 0 " + std::to_string(system) + " " +
         std::to_string(idle) +
         " 0 0 0 0 0 0\n"
         "cpu0 1 2 3 4 5 6 7 8 0 0\nintr 12345\n";
}

void fakeNode(FakeFs& fs, uint64_t user, uint64_t system, uint64_t idle) {
  fs.put("/proc/stat", procStat(user, system, idle));
  fs.put("/proc/meminfo", kMemInfo);
  fs.put("/proc/pressure/memory",
         "some avg10=12.50 avg60=1.00 avg300=0.00 total=100\n"
         "full avg10=3.25 avg60=0.00 avg300=0.00 total=10\n");
  fs.put("/sys/devices/system/cpu/online", "0-3\n");
  fs.put("/sys/devices/system/cpu/possible", "0-7\n");
}

TEST(NodeStatsTest, ParsesProcStatAggregateLine) {
  auto t = parseProcStat("cpu  10 1 5 100 4 2 3 7 9 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->busy, 10u + 1 + 5 + 2 + 3 + 7);  // guest is already inside user
  EXPECT_EQ(t->total, t->busy + 100 + 4);
  // Old kernels: only four fields.
  auto old = parseProcStat("cpu 1 2 3 4\n");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->busy, 6u);
  EXPECT_FALSE(parseProcStat("intr 1 2 3\n"));
  EXPECT_FALSE(parseProcStat("cpu  1 x 3 4\n"));
}

TEST(NodeStatsTest, ParsesMemInfo) {
  auto m = parseMemInfo(kMemInfo);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->total_bytes, 8000000ull * 1024);
  EXPECT_EQ(m->available_bytes, 2000000ull * 1024);
  EXPECT_FALSE(parseMemInfo("MemTotal: 10 kB\n"));
}

TEST(NodeStatsTest, ParsesCpuLists) {
  auto l = parseCpuListText("0-2,5,7-8\n");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, (std::vector<int>{0, 1, 2, 5, 7, 8}));
  EXPECT_FALSE(parseCpuListText("3-1"));
  EXPECT_FALSE(parseCpuListText("a"));
}

TEST(NodeStatsTest, SamplerComputesNodeUsageFromProcStatDeltas) {
  FakeFs fs;
  fakeNode(fs, 1000, 500, 10000);
  NodeSampler sampler(fs, "/proc", "/sys");
  SignalTracker signals;
  auto first = sampler.sample(10 * kSec, &signals);
  EXPECT_FALSE(first.cpu_usage_cores) << "no delta on the first sample";
  ASSERT_TRUE(first.mem);
  EXPECT_EQ(first.mem->total_bytes, 8000000ull * 1024);
  EXPECT_DOUBLE_EQ(*first.mem_psi_some_avg10, 12.5);
  EXPECT_DOUBLE_EQ(*first.mem_psi_full_avg10, 3.25);
  EXPECT_EQ(first.online_cpus, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(first.cpu_count, 8);

  // 2 s later, 3 s of busy CPU time at USER_HZ: 1.5 cores.
  long hz = ::sysconf(_SC_CLK_TCK);
  fakeNode(fs, 1000 + 2 * hz, 500 + hz, 10000 + 5 * hz);
  auto second = sampler.sample(12 * kSec, &signals);
  ASSERT_TRUE(second.cpu_usage_cores);
  EXPECT_NEAR(*second.cpu_usage_cores, 1.5, 1e-9);
  for (const auto& h : signals.health(12 * kSec)) {
    EXPECT_EQ(h.consecutive_failures, 0u) << h.name;
    EXPECT_EQ(h.age_ns, 0) << h.name;
  }
}

TEST(NodeStatsTest, FailedReadsShowInSignalHealth) {
  FakeFs fs;
  fakeNode(fs, 1, 1, 1);
  NodeSampler sampler(fs, "/proc", "/sys");
  SignalTracker signals;
  sampler.sample(1 * kSec, &signals);
  fs.failReads("/proc/meminfo", EIO);
  sampler.sample(2 * kSec, &signals);
  auto r = sampler.sample(3 * kSec, &signals);
  EXPECT_FALSE(r.mem);
  bool found = false;
  for (const auto& h : signals.health(4 * kSec)) {
    if (h.name == "meminfo") {
      found = true;
      EXPECT_EQ(h.consecutive_failures, 2u);
      EXPECT_EQ(h.age_ns, 3 * kSec);
    }
  }
  EXPECT_TRUE(found);
}

TEST(NodeStatsTest, MissingMemoryPsiIsNotAFailure) {
  FakeFs fs;
  fakeNode(fs, 1, 1, 1);
  fs.remove("/proc/pressure/memory");
  NodeSampler sampler(fs, "/proc", "/sys");
  SignalTracker signals;
  auto r = sampler.sample(kSec, &signals);
  EXPECT_FALSE(r.mem_psi_some_avg10);
  for (const auto& h : signals.health(kSec)) {
    EXPECT_EQ(h.consecutive_failures, 0u) << h.name;
  }
}

TEST(NodeStatsTest, BuildsNodeSnapshotWithPodCgroupsAndSystemUsage) {
  Snapshot agent;
  ContainerView be;
  be.id = "b";
  be.pod_uid = "uid-b";
  be.tier = bpf::Tier::kBE;
  be.cgroup = "/kubepods/besteffort/poduid-b/b";
  be.have_cpu = true;
  be.usage_cores = 0.5;
  be.throttled_pct = 20;
  be.p99_ns = 4096;
  ContainerView ls;
  ls.id = "/system.slice/nginx.service";
  ls.tier = bpf::Tier::kLSX;
  ls.cgroup = "/system.slice/nginx.service";
  ls.have_cpu = true;
  ls.usage_cores = 0.25;
  ContainerView untiered;
  untiered.id = "x";
  untiered.cgroup = "/x";
  agent.containers = {be, ls, untiered};
  NodeSampler::Reading node;
  node.cpu_usage_cores = 1.25;
  node.online_cpus = {0, 1};
  node.cpu_count = 2;
  node.mem = MemInfo{1000, 400};
  node.mem_psi_some_avg10 = 1.0;

  agent.containers[1].cpu_limit_cores = 2.5;
  agent.containers[0].memory = MemoryUsage{96 << 20, 32 << 20, 64 << 20};
  auto s = buildNodeSnapshot(agent, node, {{"proc-stat", 5, 0}}, 77);
  EXPECT_FALSE(s.containers[0].cpu_limit_cores);
  EXPECT_EQ(s.containers[0].memory_usage_bytes, uint64_t{64} << 20) << "the working set";
  EXPECT_EQ(s.containers[1].memory_usage_bytes, 0u) << "memory not read: 0";
  EXPECT_EQ(s.containers[1].cpu_limit_cores, std::optional<double>(2.5)) << "the engine's input";
  EXPECT_EQ(s.now_ns, 77);
  ASSERT_EQ(s.containers.size(), 2u);
  EXPECT_EQ(s.containers[0].tier, policy::Tier::kBE);
  EXPECT_EQ(s.containers[0].pod_cgroup, "/kubepods/besteffort/poduid-b");
  EXPECT_DOUBLE_EQ(s.containers[0].throttled_ratio, 0.2);
  EXPECT_EQ(s.containers[0].runq_p99_ns, 4096u);
  EXPECT_EQ(s.containers[1].tier, policy::Tier::kLSX);
  EXPECT_EQ(s.containers[1].pod_cgroup, "") << "outside Kubernetes the container is its own pod";
  EXPECT_DOUBLE_EQ(s.node_cpu_usage_cores, 1.25);
  EXPECT_DOUBLE_EQ(s.system_cpu_usage_cores, 0.5);
  EXPECT_EQ(s.memory_total_bytes, 1000u);
  EXPECT_EQ(s.memory_available_bytes, 400u);
  ASSERT_EQ(s.signals.size(), 1u);

  node.cpu_usage_cores = 0.1;  // sampling skew: never negative
  EXPECT_DOUBLE_EQ(buildNodeSnapshot(agent, node, {}, 1).system_cpu_usage_cores, 0.0);
}

TEST(NodeStatsTest, SamePlanComparesWhatTheBackendWrites) {
  kmods::EnforcementPlan a;
  a.cgroups.push_back({"b", "/b", "", kmods::PlanTier::kBE});
  a.be_cpus = {0, 1};
  kmods::EnforcementPlan b = a;
  b.reasons = {"different reasons do not matter"};
  EXPECT_TRUE(samePlan(a, b));
  b.be_cpus = {0};
  EXPECT_FALSE(samePlan(a, b));
  b = a;
  b.be_quota_cores = 1.0;
  EXPECT_FALSE(samePlan(a, b));
  b = a;
  b.cgroups[0].tier = kmods::PlanTier::kLS;
  EXPECT_FALSE(samePlan(a, b));
}

}  // namespace
}  // namespace colo::agent
