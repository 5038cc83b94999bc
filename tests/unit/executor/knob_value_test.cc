#include "agent/executor/knob_value.h"

#include <gtest/gtest.h>

namespace colo::executor {
namespace {

TEST(KnobValue, CpuMaxKeepsPeriodWhenOnlyQuotaWritten) {
  EXPECT_TRUE(knobMatches("/cg/a/cpu.max", "max", "max 100000\n"));
  EXPECT_TRUE(knobMatches("/cg/a/cpu.max", "50000 100000", "50000 100000\n"));
  EXPECT_FALSE(knobMatches("/cg/a/cpu.max", "50000 100000", "max 100000\n"));
  EXPECT_FALSE(knobMatches("/cg/a/cpu.max", "max", "50000 100000\n"));
}

TEST(KnobValue, CpusetsCompareAsSets) {
  EXPECT_TRUE(knobMatches("/cg/a/cpuset.cpus", "3,0-1", "0-1,3\n"));
  EXPECT_TRUE(knobMatches("/cg/a/cpuset.cpus", "", "\n"));
  EXPECT_FALSE(knobMatches("/cg/a/cpuset.cpus", "0", "0-1\n"));
  std::set<int> s;
  ASSERT_TRUE(parseCpuList("0-2,5,7-8", &s));
  EXPECT_EQ(formatCpuList(s), "0-2,5,7-8");
  EXPECT_FALSE(parseCpuList("0-x", &s));
}

TEST(KnobValue, MemoryRoundedToPagesAndUnlimitedSentinels) {
  EXPECT_TRUE(knobMatches("/cg/a/memory.high", "1000000", "999424\n"));
  EXPECT_FALSE(knobMatches("/cg/a/memory.high", "1000000", "2000000\n"));
  EXPECT_TRUE(knobMatches("/cg/a/memory.soft_limit_in_bytes", "-1", "9223372036854771712\n"));
  EXPECT_TRUE(knobMatches("/cg/a/memory.high", "max", "max\n"));
}

TEST(KnobValue, PlainKnobsCompareTrimmed) {
  EXPECT_TRUE(knobMatches("/cg/a/cpu.idle", "1", "1\n"));
  EXPECT_FALSE(knobMatches("/cg/a/cpu.shares", "1", "2\n"));
  EXPECT_EQ(writableForm("/cg/a/cpu.shares", " 1024\n"), "1024");
  EXPECT_EQ(writableForm("/cg/a/cpuset.cpus.partition", "root invalid (not exclusive)\n"), "root");
}

}  // namespace
}  // namespace colo::executor
