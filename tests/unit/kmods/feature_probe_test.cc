#include "kmods-free/feature_probe.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "unit/kmods/fake_kernel.h"

namespace colo::kmods {
namespace {

// A probe environment over FakeFs whose mkdir fills the new cgroup with `files`.
struct FakeProbe {
  FakeFs fs;
  std::map<std::string, std::vector<std::string>> files_by_root;
  std::vector<std::string> made;
  std::vector<std::string> removed;
  int core_errno = EINVAL;
  std::optional<uint64_t> custom_slice;  // the kernel takes no custom slice
  bool mkdir_fails = false;

  ProbeEnv env(const CgroupMounts& mounts) {
    ProbeEnv e;
    e.fs = &fs;
    e.mounts = mounts;
    e.probe_name = "colo-probe-1";
    e.make_dir = [this](const std::string& p) -> Status {
      if (mkdir_fails) {
        return failErrno(EACCES, "mkdir " + p);
      }
      made.push_back(p);
      std::string root = p.substr(0, p.rfind('/'));
      for (const auto& f : files_by_root[root]) {
        fs.put(joinPath(p, f), "0\n");
      }
      return ok();
    };
    e.remove_dir = [this](const std::string& p) -> Status {
      removed.push_back(p);
      fs.remove(p);
      return ok();
    };
    e.core_sched_errno = [this] { return core_errno; };
    e.custom_slice = [this] { return custom_slice; };
    return e;
  }
};

TEST(FeatureProbe, HybridV1LikeThisMachine) {
  FakeProbe p;
  p.files_by_root["/sys/fs/cgroup/cpu"] = {"cpu.idle", "cpu.shares", "cpu.cfs_quota_us",
                                           "cpu.cfs_burst_us"};
  p.files_by_root["/sys/fs/cgroup/cpuset"] = {"cpuset.cpus", "cpuset.cpu_exclusive"};
  p.files_by_root["/sys/fs/cgroup/memory"] = {"memory.soft_limit_in_bytes"};
  p.fs.put("/proc/pressure/cpu", "some avg10=0.00\n");
  p.fs.put("/sys/kernel/btf/vmlinux", "");
  p.core_errno = ENODEV;
  auto f = probeFeatures(p.env(test::v1Mounts()));
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->cpu_hierarchy, "v1");
  EXPECT_TRUE(f->cpu_idle);
  EXPECT_TRUE(f->cpu_burst);
  EXPECT_TRUE(f->cpu_quota);
  EXPECT_TRUE(f->cpu_weight);
  EXPECT_TRUE(f->cpuset);
  EXPECT_TRUE(f->cpuset_exclusive);
  EXPECT_FALSE(f->cpuset_partition);
  EXPECT_TRUE(f->memory_soft_limit);
  EXPECT_FALSE(f->memory_high);
  EXPECT_FALSE(f->group_identity);
  EXPECT_TRUE(f->psi);
  EXPECT_FALSE(f->psi_cgroup);
  EXPECT_TRUE(f->btf);
  EXPECT_EQ(f->core_sched, "no-smt");
  EXPECT_EQ(f->sched_ext, "absent");
  EXPECT_EQ(f->controllers.at("cpu").v1_mount, "/sys/fs/cgroup/cpu");
  EXPECT_FALSE(f->controllers.at("cpu").v2);
  // Every probe cgroup it made, it removed.
  EXPECT_EQ(p.made.size(), 3u);
  EXPECT_EQ(p.made, p.removed);
}

TEST(FeatureProbe, V2WithPartitionsBurstAndGroupIdentity) {
  FakeProbe p;
  p.fs.put("/sys/fs/cgroup/cgroup.subtree_control", "cpuset cpu io memory pids\n");
  p.files_by_root["/sys/fs/cgroup"] = {"cpu.idle",
                                       "cpu.weight",
                                       "cpu.max",
                                       "cpu.max.burst",
                                       "cpu.pressure",
                                       "cpuset.cpus",
                                       "cpuset.cpus.partition",
                                       "memory.high",
                                       "cpu.bvt_warp_ns"};
  p.fs.put("/sys/kernel/sched_ext/state", "enabled\n");
  p.core_errno = 0;
  auto f = probeFeatures(p.env(test::v2Mounts()));
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->cpu_hierarchy, "v2");
  EXPECT_TRUE(f->cpu_idle && f->cpu_burst && f->cpu_quota && f->cpu_weight);
  EXPECT_TRUE(f->cpuset_partition);
  EXPECT_TRUE(f->memory_high);
  EXPECT_TRUE(f->psi_cgroup);
  EXPECT_TRUE(f->group_identity);
  EXPECT_FALSE(f->psi);  // no /proc/pressure/cpu in this fake
  EXPECT_EQ(f->core_sched, "available");
  EXPECT_EQ(f->sched_ext, "enabled");
  EXPECT_EQ(p.made.size(), 1u);  // one hierarchy, one probe cgroup
  EXPECT_TRUE(f->notes.empty());
}

TEST(FeatureProbe, OldKernelWithoutIdleOrBurst) {
  FakeProbe p;
  p.files_by_root["/sys/fs/cgroup/cpu"] = {"cpu.shares", "cpu.cfs_quota_us"};
  p.fs.mkdirs("/sys/kernel/sched_ext");              // built in, state file unreadable
  p.fs.failReads("/proc/pressure/cpu", EOPNOTSUPP);  // psi=0 on the command line
  p.fs.put("/proc/pressure/cpu", "");
  auto f = probeFeatures(p.env(test::v1Mounts()));
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->cpu_idle);
  EXPECT_FALSE(f->cpu_burst);
  EXPECT_TRUE(f->cpu_quota);
  EXPECT_FALSE(f->psi);
  EXPECT_EQ(f->core_sched, "absent");
  EXPECT_EQ(f->sched_ext, "disabled");
}

TEST(FeatureProbe, WithoutMkdirInspectsAnExistingChildReadOnly) {
  FakeProbe p;
  p.mkdir_fails = true;
  p.fs.put("/sys/fs/cgroup/cpu/system.slice/cpu.idle", "0\n");
  p.fs.put("/sys/fs/cgroup/cpu/system.slice/cpu.shares", "1024\n");
  auto f = probeFeatures(p.env(test::v1Mounts()));
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->cpu_idle);
  EXPECT_TRUE(p.removed.empty());  // never removes what it did not make
  EXPECT_FALSE(f->notes.empty());
}

TEST(FeatureProbe, V2ControllerNotDelegatedIsNoted) {
  FakeProbe p;
  p.fs.put("/sys/fs/cgroup/cgroup.subtree_control", "memory\n");
  auto f = probeFeatures(p.env(test::v2Mounts()));
  ASSERT_TRUE(f);
  bool noted = false;
  for (const auto& n : f->notes) {
    noted = noted || n.find("cpu is not enabled") != std::string::npos;
  }
  EXPECT_TRUE(noted);
}

TEST(FeatureProbe, NoCgroupsIsAnErrorThatSaysWhatToDo) {
  FakeProbe p;
  auto f = probeFeatures(p.env(CgroupMounts{}));
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message().find("mount"), std::string::npos);
}

TEST(FeatureProbe, CustomEevdfSliceIsReportedWithTheKernelDefault) {
  FakeProbe p;
  p.files_by_root["/sys/fs/cgroup/cpu"] = {"cpu.idle", "cpu.shares"};
  auto f = probeFeatures(p.env(test::v1Mounts()));
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->sched_slice_default_ns, 0u);
  p.custom_slice = 1'400'000;
  f = probeFeatures(p.env(test::v1Mounts()));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->sched_slice_default_ns, 1'400'000u);
  std::ostringstream table;
  printFeaturesTable(*f, table);
  EXPECT_NE(table.str().find("EEVDF task slice      yes"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("default 1.40 ms"), std::string::npos) << table.str();
  auto j = nlohmann::json::parse(featuresJson(*f));
  EXPECT_EQ(j["sched_slice"], true);
  EXPECT_EQ(j["sched_slice_default_ns"], 1'400'000);
}

TEST(FeatureProbe, TableAndJson) {
  auto f = test::v1Features();
  f.core_sched = "absent";
  f.sched_ext = "absent";
  f.controllers["cpu"] = {"/sys/fs/cgroup/cpu", false};
  std::ostringstream table;
  printFeaturesTable(f, table);
  EXPECT_NE(table.str().find("cpu.idle"), std::string::npos);
  EXPECT_NE(table.str().find("group identity"), std::string::npos);
  EXPECT_NE(table.str().find("sched_ext"), std::string::npos);
  auto j = nlohmann::json::parse(featuresJson(f));
  EXPECT_EQ(j["cpu_hierarchy"], "v1");
  EXPECT_EQ(j["cpu_idle"], true);
  EXPECT_EQ(j["group_identity"], false);
  EXPECT_EQ(j["controllers"]["cpu"]["v1_mount"], "/sys/fs/cgroup/cpu");
}

}  // namespace
}  // namespace colo::kmods
