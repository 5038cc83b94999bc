#include "agent/cgroup_stats.h"

#include <gtest/gtest.h>

namespace colo::agent {
namespace {

TEST(CgroupStatsTest, V2CpuStat) {
  auto s = parseCpuStatV2(
      "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 100\n"
      "nr_throttled 7\nthrottled_usec 35000\nnr_bursts 0\nburst_usec 0\n");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->usage_ns, 1500000000u);
  EXPECT_EQ(s->nr_periods, 100u);
  EXPECT_EQ(s->nr_throttled, 7u);
  EXPECT_EQ(s->throttled_ns, 35000000u);
  // Without a cpu controller only the usage lines exist.
  auto bare = parseCpuStatV2("usage_usec 5\nuser_usec 3\nsystem_usec 2\n");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->nr_periods, 0u);
  EXPECT_FALSE(parseCpuStatV2("nr_periods 1\n"));
  EXPECT_FALSE(parseCpuStatV2("usage_usec x\n"));
}

TEST(CgroupStatsTest, V1CpuStatAndCpuacct) {
  auto s = parseCpuStatV1(
      "nr_periods 10\nnr_throttled 2\nthrottled_time 123456\nnr_bursts 0\n"
      "burst_time 0\n",
      "987654321\n");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->usage_ns, 987654321u);
  EXPECT_EQ(s->nr_periods, 10u);
  EXPECT_EQ(s->nr_throttled, 2u);
  EXPECT_EQ(s->throttled_ns, 123456u);
  EXPECT_FALSE(parseCpuStatV1("nr_periods 1\n", "abc\n"));
  EXPECT_FALSE(parseCpuStatV1("nr_periods\n", "1\n"));
}

TEST(CgroupStatsTest, V2MemoryWorkingSetIsUsageLessInactiveFile) {
  // memory.stat lines that merely contain "inactive_file" are not it.
  const char* stat =
      "anon 41943040\nfile 62914560\nkernel 1048576\nshmem 0\nworkingset_refault_file 9\n"
      "inactive_anon 0\nactive_anon 41943040\ninactive_file 20971520\nactive_file 41943040\n"
      "unevictable 0\n";
  auto usage = parseMemoryUsageBytes("104857600\n");
  auto inactive = parseInactiveFile(stat, CgroupVersion::kV2);
  ASSERT_TRUE(usage && inactive);
  MemoryUsage m = memoryUsage(*usage, *inactive);
  EXPECT_EQ(m.usage_bytes, 104857600u);
  EXPECT_EQ(m.inactive_file_bytes, 20971520u);
  EXPECT_EQ(m.working_set_bytes, 104857600u - 20971520u);
  // Inactive file pages over the usage (the two files are read one after the other): 0.
  EXPECT_EQ(memoryUsage(1000, 4096).working_set_bytes, 0u);
  EXPECT_FALSE(parseMemoryUsageBytes("max\n"));
  EXPECT_FALSE(parseMemoryUsageBytes(""));
  EXPECT_FALSE(parseInactiveFile("anon 1\nactive_file 2\n", CgroupVersion::kV2))
      << "no inactive_file";
  EXPECT_FALSE(parseInactiveFile("inactive_file x\n", CgroupVersion::kV2));
}

TEST(CgroupStatsTest, V1MemoryUsesTheHierarchicalInactiveFile) {
  // v1 memory.stat: the cgroup's own figures, then total_* over its subtree; usage_in_bytes is
  // hierarchical, so total_inactive_file is the one to subtract (as kubelet does).
  const char* stat =
      "cache 10207232\nrss 4177920\ninactive_anon 0\nactive_anon 0\ninactive_file 16384\n"
      "active_file 200704\nhierarchical_memory_limit 9223372036854771712\n"
      "total_cache 757055488\ntotal_rss 1131941888\ntotal_inactive_file 422060032\n"
      "total_active_file 322691072\n";
  auto inactive = parseInactiveFile(stat, CgroupVersion::kV1);
  ASSERT_TRUE(inactive) << inactive.error().message();
  EXPECT_EQ(*inactive, 422060032u);
  EXPECT_EQ(memoryUsage(1888874496, *inactive).working_set_bytes, 1888874496u - 422060032u);
  EXPECT_FALSE(parseInactiveFile("inactive_file 16384\n", CgroupVersion::kV1))
      << "no total_inactive_file";
}

TEST(CgroupStatsTest, CpuLimits) {
  EXPECT_EQ(*parseCpuMax("150000 100000\n"), std::optional<double>(1.5));
  EXPECT_EQ(*parseCpuMax("max 100000\n"), std::nullopt);
  EXPECT_FALSE(parseCpuMax("150000\n"));
  EXPECT_FALSE(parseCpuMax("abc 100000\n"));
  EXPECT_FALSE(parseCpuMax("150000 0\n"));
  EXPECT_EQ(*parseCfsLimit("50000\n", "100000\n"), std::optional<double>(0.5));
  EXPECT_EQ(*parseCfsLimit("-1\n", "100000\n"), std::nullopt);
  EXPECT_FALSE(parseCfsLimit("x\n", "100000\n"));
  EXPECT_FALSE(parseCfsLimit("50000\n", "0\n"));
}

TEST(CgroupStatsTest, Pressure) {
  auto p = parsePressure(
      "some avg10=1.50 avg60=0.84 avg300=1.78 total=14332811\n"
      "full avg10=0.25 avg60=0.00 avg300=0.00 total=0\n");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_DOUBLE_EQ(p->some_avg10, 1.5);
  ASSERT_TRUE(p->full_avg10);
  EXPECT_DOUBLE_EQ(*p->full_avg10, 0.25);
  auto some_only = parsePressure("some avg10=3.00 avg60=0.00 avg300=0.00 total=1\n");
  ASSERT_TRUE(some_only);
  EXPECT_FALSE(some_only->full_avg10);
  EXPECT_FALSE(parsePressure(""));
  EXPECT_FALSE(parsePressure("some avg60=1\n"));
}

}  // namespace
}  // namespace colo::agent
