#include "kmods-free/backend.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "agent/executor/knob_value.h"
#include "unit/executor/temp_dir.h"
#include "unit/kmods/fake_kernel.h"

namespace colo::kmods {
namespace {

constexpr char kCpu[] = "/sys/fs/cgroup/cpu";
constexpr char kCpuset[] = "/sys/fs/cgroup/cpuset";

const std::string kBE1 = "/kubepods/besteffort/podbe1";
const std::string kBE2 = "/kubepods/besteffort/podbe2";
const std::string kLS = "/kubepods/burstable/podls";
const std::string kLSX = "/kubepods/podlsx";

// A kubelet-shaped tree: two BE pods, one LS pod, one LSX pod, 4 cpus.
EnforcementPlan kubePlan() {
  EnforcementPlan p;
  p.cgroups = {{"be-a", kBE1 + "/ca", kBE1, PlanTier::kBE},
               {"be-b", kBE2 + "/cb", kBE2, PlanTier::kBE},
               {"ls-l", kLS + "/cl", kLS, PlanTier::kLS},
               {"lsx-x", kLSX + "/cx", kLSX, PlanTier::kLSX}};
  p.pools.lsx = {3};
  p.pools.shared = {0, 1};
  p.pools.be = {2};
  p.be_cpus = {1, 2};
  p.reasons = {"test plan"};
  return p;
}

void addKubeTreeV1(FakeFs& fs) {
  fs.put(std::string(kCpuset) + "/cpuset.cpus", "0-3\n");
  for (const char* qos : {"/kubepods", "/kubepods/besteffort", "/kubepods/burstable"}) {
    test::addV1Cgroup(fs, qos);
  }
  for (const auto& pod : {kBE1, kBE2, kLS, kLSX}) {
    test::addV1Cgroup(fs, pod);
  }
  for (const char* c : {"/ca", "/cb", "/cl", "/cx"}) {
    std::string pod = c == std::string("/ca")   ? kBE1
                      : c == std::string("/cb") ? kBE2
                      : c == std::string("/cl") ? kLS
                                                : kLSX;
    test::addV1Cgroup(fs, pod + c);
  }
}

const KnobWrite* find(const PlanWrites& pw, const std::string& path) {
  for (const auto& w : pw.writes) {
    if (w.path == path) {
      return &w;
    }
  }
  return nullptr;
}

size_t indexOf(const PlanWrites& pw, const std::string& path, const std::string& value) {
  for (size_t i = 0; i < pw.writes.size(); ++i) {
    if (pw.writes[i].path == path && pw.writes[i].value == value) {
      return i;
    }
  }
  return SIZE_MAX;
}

TEST(PlanWrites, V1BePodsGetCpuIdleNeverTheBesteffortDirectory) {
  FakeFs fs;
  addKubeTreeV1(fs);
  auto pw = planWrites(kubePlan(), test::v1Features(), fs);
  for (const auto& pod : {kBE1, kBE2}) {
    auto* w = find(pw, std::string(kCpu) + pod + "/cpu.idle");
    ASSERT_NE(w, nullptr) << pod;
    EXPECT_EQ(w->value, "1");
  }
  for (const auto& w : pw.writes) {
    EXPECT_FALSE(w.path.starts_with(std::string(kCpu) + "/kubepods/besteffort/cpu."))
        << "wrote kubelet's QoS dir: " << w.path;
    // LS tiers keep their weights; with cpu.idle, BE shares are left alone too (the kernel
    // refuses cpu.shares on an idle group).
    EXPECT_FALSE(w.path.ends_with("/cpu.shares")) << w.path;
    EXPECT_FALSE(w.path.ends_with("/cpu.cfs_quota_us")) << "quota without a cap: " << w.path;
  }
  EXPECT_EQ(find(pw, std::string(kCpu) + kLS + "/cpu.idle"), nullptr);
}

TEST(PlanWrites, WithoutCpuIdleBeGetsMinimumWeight) {
  FakeFs fs;
  addKubeTreeV1(fs);
  auto pw = planWrites(kubePlan(), test::v1Features(/*cpu_idle=*/false), fs);
  auto* w = find(pw, std::string(kCpu) + kBE1 + "/cpu.shares");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->value, "2");
  EXPECT_EQ(find(pw, std::string(kCpu) + kBE1 + "/cpu.idle"), nullptr);

  FakeFs fs2;
  auto pw2 = planWrites(kubePlan(), test::v2Features(/*cpu_idle=*/false), fs2);
  auto* w2 = find(pw2, "/sys/fs/cgroup" + kBE1 + "/cpu.weight");
  ASSERT_NE(w2, nullptr);
  EXPECT_EQ(w2->value, "1");
}

TEST(PlanWrites, BeListedAsQosDirectoryIsRefusedWithAWarning) {
  FakeFs fs;
  EnforcementPlan p;
  p.cgroups = {{"qos", "/kubepods/besteffort", "", PlanTier::kBE}};
  auto pw = planWrites(p, test::v1Features(), fs);
  EXPECT_TRUE(pw.writes.empty());
  ASSERT_EQ(pw.warnings.size(), 1u);
  EXPECT_NE(pw.warnings[0].find("kubelet QoS"), std::string::npos);
}

TEST(PlanWrites, GroupIdentityWhereTheKernelHasIt) {
  FakeFs fs;
  addKubeTreeV1(fs);
  auto f = test::v1Features();
  f.group_identity = true;
  auto pw = planWrites(kubePlan(), f, fs);
  EXPECT_EQ(find(pw, std::string(kCpu) + kBE1 + "/cpu.bvt_warp_ns")->value, "-1");
  EXPECT_EQ(find(pw, std::string(kCpu) + kLS + "/cpu.bvt_warp_ns")->value, "2");
  EXPECT_EQ(find(pw, std::string(kCpu) + kLSX + "/cpu.bvt_warp_ns")->value, "2");
  auto none = planWrites(kubePlan(), test::v1Features(), fs);
  for (const auto& w : none.writes) {
    EXPECT_FALSE(w.path.ends_with("cpu.bvt_warp_ns"));
  }
}

TEST(PlanWrites, QuotaOnlyAsAHardCapOnTheBestEffortParent) {
  FakeFs fs;
  addKubeTreeV1(fs);
  auto plan = kubePlan();
  plan.be_quota_cores = 1.5;
  auto pw = planWrites(plan, test::v1Features(), fs);
  auto* w = find(pw, std::string(kCpu) + "/kubepods/besteffort/cpu.cfs_quota_us");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->value, "150000");
  // v2 writes "quota period", keeping the period.
  FakeFs fs2;
  test::addV2Cgroup(fs2, "/kubepods/besteffort");
  auto pw2 = planWrites(plan, test::v2Features(), fs2);
  EXPECT_EQ(find(pw2, "/sys/fs/cgroup/kubepods/besteffort/cpu.max")->value, "150000 100000");
}

TEST(PlanWrites, QuotaSplitAcrossBePodsWithoutACommonBesteffortParent) {
  FakeFs fs;
  EnforcementPlan p;
  p.cgroups = {{"a", "/batch/a", "", PlanTier::kBE}, {"b", "/other/b", "", PlanTier::kBE}};
  p.be_quota_cores = 1.0;
  test::addV1Cgroup(fs, "/batch/a");
  test::addV1Cgroup(fs, "/other/b");
  auto pw = planWrites(p, test::v1Features(), fs);
  EXPECT_EQ(find(pw, std::string(kCpu) + "/batch/a/cpu.cfs_quota_us")->value, "50000");
  EXPECT_EQ(find(pw, std::string(kCpu) + "/other/b/cpu.cfs_quota_us")->value, "50000");
}

TEST(PlanWrites, LsxCoresAreInNoOtherCpuset) {
  FakeFs fs;
  addKubeTreeV1(fs);
  auto plan = kubePlan();
  plan.be_cpus = {1, 2, 3};  // a buggy plan offering an LSX core to BE
  auto pw = planWrites(plan, test::v1Features(), fs);
  auto final_value = [&](const std::string& path) {
    std::string v = "<none>";
    for (const auto& w : pw.writes) {
      if (w.path == path) {
        v = w.value;
      }
    }
    return v;
  };
  std::string root(kCpuset);
  EXPECT_EQ(final_value(root + kLSX + "/cx/cpuset.cpus"), "3");
  EXPECT_EQ(final_value(root + kBE1 + "/ca/cpuset.cpus"), "1-2");
  EXPECT_EQ(final_value(root + kBE2 + "/cb/cpuset.cpus"), "1-2");
  EXPECT_EQ(final_value(root + kLS + "/cl/cpuset.cpus"), "0-1");
  EXPECT_FALSE(pw.warnings.empty());
  for (const auto& c : plan.cgroups) {
    if (c.tier == PlanTier::kLSX) {
      continue;
    }
    for (const auto& cg : {c.cgroup, c.pod_cgroup}) {
      std::set<int> s;
      ASSERT_TRUE(executor::parseCpuList(final_value(root + cg + "/cpuset.cpus"), &s));
      EXPECT_EQ(s.count(3), 0u) << cg;
    }
  }
}

TEST(PlanWrites, V1CpusetsWidenParentsFirstAndNarrowChildrenFirst) {
  FakeFs fs;
  addKubeTreeV1(fs);
  // The BE pod currently sits on cpu 0 only; the plan moves it to cpus 1-2.
  fs.put(std::string(kCpuset) + kBE1 + "/cpuset.cpus", "0\n");
  fs.put(std::string(kCpuset) + kBE1 + "/ca/cpuset.cpus", "0\n");
  auto pw = planWrites(kubePlan(), test::v1Features(), fs);
  std::string pod = std::string(kCpuset) + kBE1 + "/cpuset.cpus";
  std::string ctr = std::string(kCpuset) + kBE1 + "/ca/cpuset.cpus";
  size_t widen = indexOf(pw, pod, "0-2");
  size_t move = indexOf(pw, ctr, "1-2");
  size_t narrow = indexOf(pw, pod, "1-2");
  ASSERT_NE(widen, SIZE_MAX);
  ASSERT_NE(move, SIZE_MAX);
  ASSERT_NE(narrow, SIZE_MAX);
  EXPECT_LT(widen, move);
  EXPECT_LT(move, narrow);
}

TEST(PlanWrites, LsBurstAndRaisedLimitV1) {
  FakeFs fs;
  addKubeTreeV1(fs);
  fs.put(std::string(kCpu) + kLS + "/cpu.cfs_quota_us", "200000\n");
  fs.put(std::string(kCpu) + kLS + "/cl/cpu.cfs_quota_us", "200000\n");
  auto plan = kubePlan();
  plan.ls_limit_cores["ls-l"] = 3.0;
  plan.ls_burst_us["ls-l"] = 500000;  // above the quota: clamped
  plan.ls_burst_us["be-a"] = 1000;    // BE never gets burst
  auto pw = planWrites(plan, test::v1Features(), fs);
  std::string pod_q = std::string(kCpu) + kLS + "/cpu.cfs_quota_us";
  std::string ctr_q = std::string(kCpu) + kLS + "/cl/cpu.cfs_quota_us";
  ASSERT_NE(find(pw, pod_q), nullptr);
  EXPECT_EQ(find(pw, pod_q)->value, "-1");
  EXPECT_EQ(find(pw, ctr_q)->value, "300000");
  EXPECT_LT(indexOf(pw, pod_q, "-1"), indexOf(pw, ctr_q, "300000"));
  EXPECT_EQ(find(pw, std::string(kCpu) + kLS + "/cl/cpu.cfs_burst_us")->value, "300000");
  EXPECT_EQ(find(pw, std::string(kCpu) + kBE1 + "/ca/cpu.cfs_burst_us"), nullptr);
}

TEST(PlanWrites, V1BurstComesDownBeforeTheQuotaItMustStayUnder) {
  FakeFs fs;
  addKubeTreeV1(fs);
  std::string dir = std::string(kCpu) + kLS + "/cl";
  fs.put(dir + "/cpu.cfs_quota_us", "300000\n");
  fs.put(dir + "/cpu.cfs_burst_us", "300000\n");
  auto plan = kubePlan();
  plan.ls_limit_cores["ls-l"] = 1.0;
  plan.ls_burst_us["ls-l"] = 500000;
  auto pw = planWrites(plan, test::v1Features(), fs);
  size_t burst = indexOf(pw, dir + "/cpu.cfs_burst_us", "100000");
  size_t quota = indexOf(pw, dir + "/cpu.cfs_quota_us", "100000");
  ASSERT_NE(burst, SIZE_MAX);
  ASSERT_NE(quota, SIZE_MAX);
  EXPECT_LT(burst, quota);
}

TEST(PlanWrites, BeMemoryCap) {
  auto plan = kubePlan();
  plan.be_memory_high_bytes = uint64_t{1} << 30;
  FakeFs fs;
  addKubeTreeV1(fs);
  auto pw = planWrites(plan, test::v1Features(), fs);
  EXPECT_EQ(find(pw, "/sys/fs/cgroup/memory/kubepods/besteffort/memory.soft_limit_in_bytes")->value,
            "1073741824");
  FakeFs fs2;
  auto pw2 = planWrites(plan, test::v2Features(), fs2);
  EXPECT_EQ(find(pw2, "/sys/fs/cgroup/kubepods/besteffort/memory.high")->value, "1073741824");
}

TEST(PlanWrites, V2LsxPartitionOnlyUnderAPartitionRoot) {
  FakeFs fs;
  fs.put("/sys/fs/cgroup/cpuset.cpus.effective", "0-3\n");
  test::addV2Cgroup(fs, "/lsx", "");
  test::addV2Cgroup(fs, "/lsx/c", "");
  EnforcementPlan p;
  p.cgroups = {{"x", "/lsx/c", "/lsx", PlanTier::kLSX}, {"b", "/be", "", PlanTier::kBE}};
  p.pools.lsx = {2, 3};
  p.be_cpus = {0, 1};
  auto pw = planWrites(p, test::v2Features(), fs);
  auto* part = find(pw, "/sys/fs/cgroup/lsx/cpuset.cpus.partition");
  ASSERT_NE(part, nullptr);
  EXPECT_EQ(part->value, "root");
  // Under kubelet's tree (not a partition root) no partition is attempted.
  FakeFs fs2;
  fs2.put("/sys/fs/cgroup/cpuset.cpus.effective", "0-3\n");
  auto plan = kubePlan();
  auto pw2 = planWrites(plan, test::v2Features(), fs2);
  for (const auto& w : pw2.writes) {
    EXPECT_FALSE(w.path.ends_with("cpuset.cpus.partition")) << w.path;
  }
}

// kubelet leaves v2 cpusets empty (inherit the parent's CPUs). The kernel refuses to empty a
// populated cgroup's cpuset again, so colod must not write the CPUs such a cgroup already
// inherits: LS keeps its empty cpusets; only the BE cgroups it narrows get explicit ones.
TEST(PlanWrites, V2CpusetsThatInheritTheirTargetAreLeftEmpty) {
  FakeFs fs;
  fs.put("/sys/fs/cgroup/cpuset.cpus.effective", "0-3\n");
  for (const auto& pod : {kBE1, kLS}) {
    for (const auto& cg : {pod, pod + (pod == kBE1 ? "/ca" : "/cl")}) {
      test::addV2Cgroup(fs, cg, "");
      fs.put("/sys/fs/cgroup" + cg + "/cpuset.cpus.effective", "0-3\n");
    }
  }
  EnforcementPlan p;
  p.cgroups = {{"be-a", kBE1 + "/ca", kBE1, PlanTier::kBE},
               {"ls-l", kLS + "/cl", kLS, PlanTier::kLS}};
  p.pools.shared = {0, 1, 2, 3};
  p.be_cpus = {2, 3};
  auto pw = planWrites(p, test::v2Features(), fs);
  EXPECT_EQ(find(pw, "/sys/fs/cgroup" + kLS + "/cl/cpuset.cpus"), nullptr);
  EXPECT_EQ(find(pw, "/sys/fs/cgroup" + kLS + "/cpuset.cpus"), nullptr);
  ASSERT_NE(find(pw, "/sys/fs/cgroup" + kBE1 + "/ca/cpuset.cpus"), nullptr);
  EXPECT_EQ(find(pw, "/sys/fs/cgroup" + kBE1 + "/ca/cpuset.cpus")->value, "2-3");
  // Not widened first: on v2 a child may name CPUs its parent's file does not.
  EXPECT_EQ(indexOf(pw, "/sys/fs/cgroup" + kBE1 + "/cpuset.cpus", "0-3"), SIZE_MAX);
  EXPECT_NE(indexOf(pw, "/sys/fs/cgroup" + kBE1 + "/cpuset.cpus", "2-3"), SIZE_MAX);
  // An LS container with explicit CPUs other than the pool's is still moved to the pool.
  fs.put("/sys/fs/cgroup" + kLS + "/cl/cpuset.cpus", "1\n");
  auto pw2 = planWrites(p, test::v2Features(), fs);
  ASSERT_NE(find(pw2, "/sys/fs/cgroup" + kLS + "/cl/cpuset.cpus"), nullptr);
  EXPECT_EQ(find(pw2, "/sys/fs/cgroup" + kLS + "/cl/cpuset.cpus")->value, "0-3");
}

class BackendApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    addKubeTreeV1(fs_);
    executor::ExecutorOptions opts;
    opts.state_dir = dir_.path();
    auto ex = executor::Executor::open(fs_, opts);
    ASSERT_TRUE(ex) << ex.error().message();
    ex_ = std::move(*ex);
    ASSERT_TRUE(ex_->reconcile());
  }
  std::string value(const std::string& p) { return fs_.readFile(p).value_or("<gone>"); }

  colo::test::TempDir dir_;
  FakeFs fs_;
  std::unique_ptr<executor::Executor> ex_;
};

TEST_F(BackendApplyTest, AppliesAsOneRevisionAndRestoresWhatLeavesThePlan) {
  Backend backend(test::v1Features(), fs_, *ex_);
  auto plan = kubePlan();
  plan.be_quota_cores = 1.0;
  auto rep = backend.apply(plan);
  EXPECT_TRUE(rep.errors.empty()) << rep.errors.front();
  ASSERT_TRUE(rep.revision);
  std::string be_quota = std::string(kCpu) + "/kubepods/besteffort/cpu.cfs_quota_us";
  EXPECT_EQ(value(be_quota), "100000\n");
  EXPECT_EQ(value(std::string(kCpu) + kBE1 + "/cpu.idle"), "1\n");

  // Cap lifted and the first BE pod becomes LS: both knobs go back to their pre-colo values.
  plan.be_quota_cores.reset();
  plan.cgroups[0].tier = PlanTier::kLS;
  auto rep2 = backend.apply(plan);
  EXPECT_TRUE(rep2.errors.empty()) << rep2.errors.front();
  EXPECT_EQ(value(be_quota), "-1\n");
  EXPECT_EQ(value(std::string(kCpu) + kBE1 + "/cpu.idle"), "0\n");
  EXPECT_EQ(value(std::string(kCpu) + kBE2 + "/cpu.idle"), "1\n");
  EXPECT_GE(rep2.restored, 2u);

  // Shutdown: everything back as it was before colo.
  auto all = ex_->restoreAll("SIGTERM");
  EXPECT_TRUE(all.ok());
  EXPECT_EQ(value(std::string(kCpu) + kBE2 + "/cpu.idle"), "0\n");
  EXPECT_EQ(value(std::string(kCpuset) + kBE2 + "/cb/cpuset.cpus"), "0-3\n");
  EXPECT_EQ(value(std::string(kCpuset) + kLSX + "/cx/cpuset.cpus"), "0-3\n");
}

TEST_F(BackendApplyTest, VanishedContainerIsCountedNotFatal) {
  Backend backend(test::v1Features(), fs_, *ex_);
  fs_.remove(std::string(kCpu) + kBE2);
  fs_.remove(std::string(kCpuset) + kBE2);
  auto rep = backend.apply(kubePlan());
  EXPECT_GT(rep.vanished, 0u);
  EXPECT_EQ(rep.failed, 0u);
  EXPECT_EQ(value(std::string(kCpu) + kBE1 + "/cpu.idle"), "1\n");
  EXPECT_FALSE(ex_->health().frozen);
}

}  // namespace
}  // namespace colo::kmods
