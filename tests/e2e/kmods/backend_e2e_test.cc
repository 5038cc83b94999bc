// The kmods-free backend on real cgroups (root): each tier gets the knobs the README promises,
// kubelet's QoS directory is left writable, and no BE task runs on an LSX core.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "agent/executor/executor.h"
#include "agent/executor/knob_value.h"
#include "common/fs.h"
#include "kmods-free/backend.h"
#include "kmods-free/feature_probe.h"
#include "support/privileged.h"
#include "support/test_cgroup.h"

namespace colo::test {
namespace {

using Clock = std::chrono::steady_clock;

// CPU the task last ran on (/proc/<pid>/stat field 39), -1 when gone.
int lastCpu(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos) {
    return -1;
  }
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  // Field 3 (state) is the first after ')'; field 39 is the 37th from there.
  for (int i = 3; i <= 39 && rest >> field; ++i) {
    if (i == 39) {
      return std::atoi(field.c_str());
    }
  }
  return -1;
}

class BackendE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    COLO_REQUIRE_ROOT();
    if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) {
      COLO_SKIP_OR_FAIL("needs 2 CPUs (one LSX core, one shared)");
    }
    auto f = kmods::probeKernel();
    ASSERT_TRUE(f) << f.error().message();
    features_ = *f;
    if (!features_.cpuset || !features_.cpu_weight) {
      COLO_SKIP_OR_FAIL("kernel lacks cpuset or cpu weights in child cgroups");
    }
    auto tree = TestCgroupTree::create("kmods", {"cpu", "cpuacct", "cpuset", "memory"});
    ASSERT_TRUE(tree) << tree.error().message();
    tree_.emplace(std::move(*tree));
    for (const char* c : {"kubepods/besteffort/podbe/cbe", "kubepods/burstable/podls/cls",
                          "kubepods/podlsx/clsx"}) {
      ASSERT_TRUE(tree_->mkdir(c));
    }
    if (tree_->version() == CgroupVersion::kV2) {
      // v2: controllers must be enabled at every level above the leaves.
      RealFs fs;
      for (const char* d :
           {"kubepods", "kubepods/besteffort", "kubepods/burstable", "kubepods/besteffort/podbe",
            "kubepods/burstable/podls", "kubepods/podlsx"}) {
        ASSERT_TRUE(fs.writeFile(tree_->path("cpu", d) + "/cgroup.subtree_control",
                                 "+cpu +cpuset +memory"));
      }
    }
    state_dir_ = "/tmp/" + tree_->topName() + "-state";
    executor::ExecutorOptions opts;
    opts.state_dir = state_dir_;
    auto ex = executor::Executor::open(fs_, opts);
    ASSERT_TRUE(ex) << ex.error().message();
    ex_ = std::move(*ex);
    ASSERT_TRUE(ex_->reconcile());
  }
  void TearDown() override {
    if (ex_) {
      ex_->restoreAll("test teardown");
    }
    if (!state_dir_.empty()) {
      std::filesystem::remove_all(state_dir_);
    }
  }

  kmods::EnforcementPlan plan() {
    std::string top = "/" + tree_->topName();
    kmods::EnforcementPlan p;
    p.cgroups = {
        {"be", top + "/kubepods/besteffort/podbe/cbe", top + "/kubepods/besteffort/podbe",
         kmods::PlanTier::kBE},
        {"ls", top + "/kubepods/burstable/podls/cls", top + "/kubepods/burstable/podls",
         kmods::PlanTier::kLS},
        {"lsx", top + "/kubepods/podlsx/clsx", top + "/kubepods/podlsx", kmods::PlanTier::kLSX}};
    p.pools.lsx = {1};
    p.pools.shared = {0};
    p.be_cpus = {0};
    p.reasons = {"e2e"};
    return p;
  }
  std::string read(const std::string& ctrl, const std::string& rel, const std::string& file) {
    return fs_.readFile(tree_->path(ctrl, rel) + "/" + file).value_or("<missing>");
  }

  RealFs fs_;
  kmods::KernelFeatures features_;
  std::optional<TestCgroupTree> tree_;
  std::string state_dir_;
  std::unique_ptr<executor::Executor> ex_;
};

TEST_F(BackendE2e, TiersMapToTheirKnobs) {
  bool v2 = tree_->version() == CgroupVersion::kV2;
  const char* weight = v2 ? "cpu.weight" : "cpu.shares";
  std::string ls_weight = read("cpu", "kubepods/burstable/podls", weight);
  std::string qos_weight = read("cpu", "kubepods/besteffort", weight);

  kmods::Backend backend(features_, fs_, *ex_);
  auto rep = backend.apply(plan());
  ASSERT_TRUE(rep.errors.empty()) << rep.errors.front();
  ASSERT_EQ(rep.failed, 0u);

  if (features_.cpu_idle) {
    EXPECT_EQ(read("cpu", "kubepods/besteffort/podbe", "cpu.idle"), "1\n");
  } else {
    EXPECT_EQ(read("cpu", "kubepods/besteffort/podbe", weight), v2 ? "1\n" : "2\n");
  }
  // kubelet's QoS directory: not idle, and kubelet can still write its weight.
  if (features_.cpu_idle) {
    EXPECT_EQ(read("cpu", "kubepods/besteffort", "cpu.idle"), "0\n");
  }
  EXPECT_EQ(read("cpu", "kubepods/besteffort", weight), qos_weight);
  EXPECT_TRUE(
      fs_.writeFile(tree_->path("cpu", "kubepods/besteffort") + "/" + weight, v2 ? "1" : "2"));
  // LS keeps its weight, and no quota anywhere without a cap.
  EXPECT_EQ(read("cpu", "kubepods/burstable/podls", weight), ls_weight);
  if (!v2) {
    EXPECT_EQ(read("cpu", "kubepods/besteffort/podbe", "cpu.cfs_quota_us"), "-1\n");
    EXPECT_EQ(read("cpu", "kubepods/besteffort", "cpu.cfs_quota_us"), "-1\n");
  }
  // Pools.
  EXPECT_EQ(read("cpuset", "kubepods/podlsx/clsx", "cpuset.cpus"), "1\n");
  EXPECT_EQ(read("cpuset", "kubepods/besteffort/podbe/cbe", "cpuset.cpus"), "0\n");
  EXPECT_EQ(read("cpuset", "kubepods/burstable/podls/cls", "cpuset.cpus"), "0\n");

  // A BE cap, then lifting it: quota appears only as the cap and goes away with it.
  auto capped = plan();
  capped.be_quota_cores = 0.5;
  ASSERT_TRUE(backend.apply(capped).errors.empty());
  if (!v2) {
    EXPECT_EQ(read("cpu", "kubepods/besteffort", "cpu.cfs_quota_us"), "50000\n");
  } else {
    EXPECT_EQ(read("cpu", "kubepods/besteffort", "cpu.max"), "50000 100000\n");
  }
  ASSERT_TRUE(backend.apply(plan()).errors.empty());
  if (!v2) {
    EXPECT_EQ(read("cpu", "kubepods/besteffort", "cpu.cfs_quota_us"), "-1\n");
  }
}

TEST_F(BackendE2e, LsxCoresCarryNoBeTask) {
  // Two BE hogs: one that asked to run on CPU 1 (sched_setaffinity) and one free to go
  // anywhere. Without the plan the first runs on the future LSX core.
  std::vector<pid_t> hogs;
  for (int cpu : {1, -1}) {
    auto pid =
        tree_->spawn("kubepods/besteffort/podbe/cbe", {"sh", "-c", "while :; do :; done"}, cpu);
    ASSERT_TRUE(pid) << pid.error().message();
    hogs.push_back(*pid);
  }
  bool seen_on_lsx_core = false;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!seen_on_lsx_core && Clock::now() < deadline) {
    seen_on_lsx_core = lastCpu(hogs[0]) == 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(seen_on_lsx_core) << "without the plan the BE hog runs on CPU 1";

  kmods::Backend backend(features_, fs_, *ex_);
  auto rep = backend.apply(plan());
  ASSERT_TRUE(rep.errors.empty()) << rep.errors.front();
  for (pid_t p : hogs) {
    std::ifstream status("/proc/" + std::to_string(p) + "/status");
    std::string line;
    std::string allowed;
    while (std::getline(status, line)) {
      if (line.starts_with("Cpus_allowed_list:")) {
        allowed = line.substr(line.find_last_of("\t ") + 1);
      }
    }
    EXPECT_EQ(allowed, "0") << "BE hog " << p;
  }
  // Sample for a second: both hogs want a CPU, one asked for CPU 1, yet they stay on CPU 0.
  int samples = 0;
  auto end = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < end) {
    for (pid_t p : hogs) {
      ASSERT_NE(lastCpu(p), 1) << "BE task " << p << " ran on the LSX core";
    }
    ++samples;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_GT(samples, 100);
  // And nothing in any non-LSX container of the tree may use CPU 1.
  std::set<int> cpus;
  ASSERT_TRUE(
      executor::parseCpuList(read("cpuset", "kubepods/burstable/podls/cls", "cpuset.cpus"), &cpus));
  EXPECT_EQ(cpus.count(1), 0u);
}

}  // namespace
}  // namespace colo::test
