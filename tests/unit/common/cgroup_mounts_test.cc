#include "common/cgroup_mounts.h"

#include <gtest/gtest.h>

namespace colo {
namespace {

constexpr const char* kHybrid =
    "25 1 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "27 25 0:24 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "28 25 0:25 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "29 25 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

constexpr const char* kPureV2 =
    "25 1 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

TEST(CgroupMounts, HybridUsesV1Cpu) {
  auto m = parseMountinfo(kHybrid, "");
  EXPECT_EQ(m.cpuVersion(), CgroupVersion::kV1);
  EXPECT_EQ(m.mountFor("cpu"), "/sys/fs/cgroup/cpu");
  EXPECT_EQ(m.mountFor("cpuacct"), "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(m.unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(m.v1.count("systemd"), 0u);
  EXPECT_FALSE(m.mountFor("memory"));
}

TEST(CgroupMounts, PureV2) {
  auto m = parseMountinfo(kPureV2, "cpuset cpu io memory pids\n");
  EXPECT_EQ(m.cpuVersion(), CgroupVersion::kV2);
  EXPECT_EQ(m.mountFor("memory"), "/sys/fs/cgroup");
  EXPECT_FALSE(m.mountFor("hugetlb"));
}

TEST(CgroupMounts, NoCpuAnywhere) {
  auto m = parseMountinfo(kPureV2, "memory\n");
  EXPECT_FALSE(m.cpuVersion());
}

}  // namespace
}  // namespace colo
