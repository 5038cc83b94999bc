// The feature probe against this kernel: what it reports matches what a fresh cgroup shows,
// and it leaves no probe cgroup behind.
#include <gtest/gtest.h>

#include "common/fs.h"
#include "kmods-free/feature_probe.h"
#include "support/privileged.h"
#include "support/test_cgroup.h"

namespace colo::test {
namespace {

TEST(ProbeE2e, MatchesAFreshCgroupAndCleansUp) {
  COLO_REQUIRE_ROOT();
  auto f = kmods::probeKernel();
  ASSERT_TRUE(f) << f.error().message();
  auto tree = TestCgroupTree::create("probe", {"cpu", "cpuset", "memory"});
  ASSERT_TRUE(tree) << tree.error().message();
  ASSERT_TRUE(tree->mkdir("child"));
  RealFs fs;
  bool v2 = tree->version() == CgroupVersion::kV2;
  EXPECT_EQ(f->cpu_hierarchy, v2 ? "v2" : "v1");
  std::string cpu = tree->path("cpu", "child");
  EXPECT_EQ(f->cpu_idle, fs.exists(cpu + "/cpu.idle"));
  EXPECT_EQ(f->cpu_burst, fs.exists(cpu + (v2 ? "/cpu.max.burst" : "/cpu.cfs_burst_us")));
  EXPECT_EQ(f->cpu_quota, fs.exists(cpu + (v2 ? "/cpu.max" : "/cpu.cfs_quota_us")));
  EXPECT_EQ(f->group_identity, fs.exists(cpu + "/cpu.bvt_warp_ns"));
  EXPECT_EQ(f->cpuset, fs.exists(tree->path("cpuset", "child") + "/cpuset.cpus"));
  EXPECT_EQ(f->btf, fs.exists("/sys/kernel/btf/vmlinux"));
  EXPECT_EQ(f->psi, static_cast<bool>(fs.readFile("/proc/pressure/cpu")));
  EXPECT_EQ(f->sched_ext != "absent", fs.exists("/sys/kernel/sched_ext"));
  EXPECT_FALSE(f->core_sched.empty());
  // No colo-probe-* cgroup is left in any hierarchy.
  for (const auto& [ctrl, mount] : f->mounts.v1) {
    if (auto dirs = fs.listDirs(mount)) {
      for (const auto& d : *dirs) {
        EXPECT_FALSE(d.starts_with("colo-probe-")) << mount << "/" << d;
      }
    }
  }
  if (!f->mounts.unified.empty()) {
    if (auto dirs = fs.listDirs(f->mounts.unified)) {
      for (const auto& d : *dirs) {
        EXPECT_FALSE(d.starts_with("colo-probe-")) << d;
      }
    }
  }
}

}  // namespace
}  // namespace colo::test
