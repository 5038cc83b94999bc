#include "agent/policy/pools.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "policy_test_util.h"

namespace colo::policy {
namespace {

using testing::addContainer;
using testing::makeNode;

std::set<int> asSet(const std::vector<int>& v) { return {v.begin(), v.end()}; }

bool disjoint(const std::vector<int>& a, const std::vector<int>& b) {
  auto sa = asSet(a);
  return std::none_of(b.begin(), b.end(), [&](int c) { return sa.contains(c); });
}

TEST(PoolsTest, LsxGetsWholeCoresFromTheTop) {
  auto s = makeNode(8, /*smt=*/true);  // cores {0,4} {1,5} {2,6} {3,7}
  addContainer(s, "x", Tier::kLSX, 0.5, /*request=*/1.0);
  PolicyConfig cfg;
  PoolAllocator a;
  const auto& l = a.allocate(s, cfg);
  // One CPU asked, but LSX owns the whole core: both siblings.
  EXPECT_EQ(l.lsx.at("x"), (std::vector<int>{3, 7}));
  EXPECT_EQ(l.pools.lsx, (std::vector<int>{3, 7}));
  EXPECT_EQ(l.pools.shared, (std::vector<int>{0, 1, 2, 4, 5, 6}));
  EXPECT_TRUE(l.shortfalls.empty());
}

TEST(PoolsTest, LsxRoundsUpToWholeCores) {
  auto s = makeNode(8, true);
  addContainer(s, "x", Tier::kLSX, 0.5, 3.0);
  PolicyConfig cfg;
  PoolAllocator a;
  const auto& l = a.allocate(s, cfg);
  EXPECT_EQ(l.lsx.at("x"), (std::vector<int>{2, 3, 6, 7}));
}

TEST(PoolsTest, LsxSkipsCoresWithAnOfflineSibling) {
  auto s = makeNode(8, true);
  s.online_cpus = {0, 1, 2, 3, 4, 5, 6};  // CPU 7 offline: core {3,7} is not whole
  addContainer(s, "x", Tier::kLSX, 0.5, 1.0);
  PolicyConfig cfg;
  PoolAllocator a;
  const auto& l = a.allocate(s, cfg);
  EXPECT_EQ(l.lsx.at("x"), (std::vector<int>{2, 6}));
  EXPECT_TRUE(asSet(l.pools.shared).contains(3));
}

TEST(PoolsTest, AssignmentsAreStickyWhenContainersArrive) {
  auto s = makeNode(16);
  addContainer(s, "m", Tier::kLSX, 0.5, 2.0);
  addContainer(s, "r", Tier::kLSR, 0.5, 2.0);
  PolicyConfig cfg;
  PoolAllocator a;
  auto first = a.allocate(s, cfg);
  // "a" sorts before "m" and "r": without stickiness it would take their CPUs.
  addContainer(s, "a", Tier::kLSX, 0.5, 2.0);
  addContainer(s, "b", Tier::kLSR, 0.5, 1.0);
  const auto& second = a.allocate(s, cfg);
  EXPECT_EQ(second.lsx.at("m"), first.lsx.at("m"));
  EXPECT_EQ(second.lsr.at("r"), first.lsr.at("r"));
  EXPECT_TRUE(disjoint(second.lsx.at("a"), second.lsx.at("m")));
  EXPECT_TRUE(disjoint(second.lsr.at("b"), second.lsr.at("r")));
  EXPECT_TRUE(disjoint(second.pools.lsx, second.pools.lsr));
}

TEST(PoolsTest, KeepsSharedAndBeFloorAndReportsShortfall) {
  auto s = makeNode(4);
  addContainer(s, "big", Tier::kLSX, 0.5, 8.0);
  PolicyConfig cfg;
  cfg.be_cpu.min_cpus = 2;
  PoolAllocator a;
  const auto& l = a.allocate(s, cfg);
  EXPECT_EQ(l.lsx.at("big").size(), 2u);  // 4 CPUs − 2 kept for the BE floor / shared pool
  EXPECT_EQ(l.pools.shared.size(), 2u);
  ASSERT_EQ(l.shortfalls.size(), 1u);
  EXPECT_NE(l.shortfalls[0].find("big wants 8 CPUs, got 2"), std::string::npos);
}

TEST(PoolsTest, BeDedicatedPoolComesFromTheBottom) {
  auto s = makeNode(8);
  addContainer(s, "r", Tier::kLSR, 0.5, 2.0);
  PolicyConfig cfg;
  cfg.pools.be_dedicated_cpus = 2;
  PoolAllocator a;
  const auto& l = a.allocate(s, cfg);
  EXPECT_EQ(l.pools.be, (std::vector<int>{0, 1}));
  EXPECT_EQ(l.pools.lsr, (std::vector<int>{6, 7}));
  EXPECT_EQ(l.pools.shared, (std::vector<int>{2, 3, 4, 5}));
}

TEST(PoolsTest, WantedCpusFallsBackFromRequestToLimitToDefault) {
  ContainerSample c;
  EXPECT_EQ(wantedCpus(c, 1.0), 1);
  c.cpu_limit_cores = 2.5;
  EXPECT_EQ(wantedCpus(c, 1.0), 3);
  c.cpu_request_cores = 1.0000001;
  EXPECT_EQ(wantedCpus(c, 1.0), 1);
}

}  // namespace
}  // namespace colo::policy
