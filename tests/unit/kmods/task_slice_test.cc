// TaskSlicer against an in-memory cgroupfs and fake sched_getattr/sched_setattr: which tasks get
// the slice, which are left alone, what comes back on restore and after a crash.
#include "kmods-free/task_slice.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/fs.h"

namespace colo::kmods {
namespace {

constexpr uint64_t kDefault = 1'400'000;
constexpr uint64_t kLong = 100'000'000;
const std::string kBe1 = "/cg/cpu/kubepods/besteffort/pod1/c1";
const std::string kBe2 = "/cg/cpu/kubepods/besteffort/pod2/c2";

// Fake kernel: per-task policy and slice; counts calls.
struct FakeSched {
  std::map<int, TaskSched> tasks;
  int gets = 0, sets = 0;
  std::map<int, int> set_errno;  // tid -> errno for sched_setattr

  SchedOps ops() {
    return SchedOps{[this](int tid) -> Result<TaskSched> {
                      ++gets;
                      auto it = tasks.find(tid);
                      if (it == tasks.end()) {
                        return failErrno(ESRCH, "sched_getattr");
                      }
                      return it->second;
                    },
                    [this](int tid, const TaskSched& cur, uint64_t slice) -> Status {
                      ++sets;
                      if (auto e = set_errno.find(tid); e != set_errno.end()) {
                        return failErrno(e->second, "sched_setattr");
                      }
                      auto it = tasks.find(tid);
                      if (it == tasks.end()) {
                        return failErrno(ESRCH, "sched_setattr");
                      }
                      EXPECT_EQ(cur.policy, it->second.policy);
                      it->second.slice_ns = slice == 0 ? kDefault : slice;
                      return ok();
                    }};
  }
  void add(int tid, uint32_t policy = 0, uint64_t slice = kDefault) {
    tasks[tid] = TaskSched{policy, 0, 0, slice, 0};
  }
  uint64_t slice(int tid) const { return tasks.at(tid).slice_ns; }
};

class TaskSlicerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("colo-task-slice-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<TaskSlicer> slicer() {
    TaskSlicerOptions o;
    o.state_file = (dir_ / "task-slices").string();
    o.default_slice_ns = kDefault;
    o.rescan_interval_ns = 1000;
    return std::make_unique<TaskSlicer>(o, fs_, sched_.ops());
  }
  void tasks(const std::string& cg, const std::string& tids) { fs_.put(cg + "/tasks", tids); }
  std::string record() {
    std::ifstream in(dir_ / "task-slices");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::filesystem::path dir_;
  FakeFs fs_;
  FakeSched sched_;
};

TEST_F(TaskSlicerTest, GivesEveryDefaultSliceTaskTheLongSliceAndRecordsTheCgroupFirst) {
  sched_.add(10);
  sched_.add(11);
  tasks(kBe1, "10\n11\n");
  auto s = slicer();
  TaskSliceCounts c = s->apply({kBe1}, kLong, 1);
  EXPECT_EQ(c.set, 2u);
  EXPECT_EQ(sched_.slice(10), kLong);
  EXPECT_EQ(sched_.slice(11), kLong);
  EXPECT_NE(record().find("100000000 " + kBe1), std::string::npos) << record();
  EXPECT_EQ(s->status().tasks, 2u);
  EXPECT_EQ(s->status().cgroups, 1u);
}

TEST_F(TaskSlicerTest, LeavesCustomSlicesAndNonFairTasksAlone) {
  sched_.add(10, 0, 5'000'000);  // someone else's slice
  sched_.add(11, 1);             // SCHED_FIFO
  sched_.add(12, 5);             // SCHED_IDLE is fair: it gets the slice
  tasks(kBe1, "10\n11\n12\n");
  auto s = slicer();
  TaskSliceCounts c = s->apply({kBe1}, kLong, 1);
  EXPECT_EQ(c.set, 1u);
  EXPECT_EQ(c.custom, 2u);
  EXPECT_EQ(sched_.slice(10), 5'000'000u);
  EXPECT_EQ(sched_.slice(11), kDefault);
  EXPECT_EQ(sched_.slice(12), kLong);
  // restoreAll gives back only what colo set.
  c = s->restoreAll();
  EXPECT_EQ(c.restored, 1u);
  EXPECT_EQ(sched_.slice(10), 5'000'000u);
  EXPECT_EQ(sched_.slice(12), kDefault);
}

TEST_F(TaskSlicerTest, RescansOnlyNewTasksAndOnlyAfterTheInterval) {
  sched_.add(10);
  tasks(kBe1, "10\n");
  auto s = slicer();
  s->apply({kBe1}, kLong, 1);
  int gets = sched_.gets;
  // Before the interval: no scan at all.
  sched_.add(20);
  tasks(kBe1, "10\n20\n");
  s->apply({kBe1}, kLong, 500);
  EXPECT_EQ(sched_.slice(20), kDefault);
  EXPECT_EQ(s->nextScanNs(), 1001);
  // After it: only the new task costs a system call.
  s->apply({kBe1}, kLong, 1001);
  EXPECT_EQ(sched_.slice(20), kLong);
  EXPECT_EQ(sched_.gets, gets + 1);
}

TEST_F(TaskSlicerTest, CgroupLeavingTheSetGetsItsTasksBack) {
  sched_.add(10);
  sched_.add(20);
  tasks(kBe1, "10\n");
  tasks(kBe2, "20\n");
  auto s = slicer();
  s->apply({kBe1, kBe2}, kLong, 1);
  ASSERT_EQ(sched_.slice(20), kLong);
  TaskSliceCounts c = s->apply({kBe1}, kLong, 2);  // pod 2 moved out of BE
  EXPECT_EQ(c.restored, 1u);
  EXPECT_EQ(sched_.slice(20), kDefault);
  EXPECT_EQ(sched_.slice(10), kLong);
  EXPECT_EQ(record().find(kBe2), std::string::npos) << record();
  // The feature turned off (slice 0): everything back, nothing recorded.
  c = s->apply({kBe1}, 0, 3);
  EXPECT_EQ(sched_.slice(10), kDefault);
  EXPECT_EQ(s->status().cgroups, 0u);
  EXPECT_EQ(record(), "colo-task-slices 1\n");
}

TEST_F(TaskSlicerTest, ReconcileAfterACrashRestoresFromTheRecord) {
  sched_.add(10);
  sched_.add(11);
  tasks(kBe1, "10\n11\n");
  {
    auto crashed = slicer();
    crashed->apply({kBe1}, kLong, 1);
    // no restoreAll: the process died
  }
  ASSERT_EQ(sched_.slice(10), kLong);
  sched_.tasks.erase(11);  // a task that ended meanwhile
  auto s = slicer();
  TaskSliceCounts c = s->reconcile();
  EXPECT_EQ(c.restored, 1u);
  EXPECT_EQ(c.vanished, 1u);
  EXPECT_TRUE(c.errors.empty());
  EXPECT_EQ(sched_.slice(10), kDefault);
  EXPECT_EQ(record(), "colo-task-slices 1\n");
  // A second reconcile has nothing to do.
  EXPECT_EQ(s->reconcile().restored, 0u);
}

TEST_F(TaskSlicerTest, VanishedCgroupsAndTasksAreNormalAndFailedCallsAreCounted) {
  sched_.add(10);
  sched_.add(11);
  sched_.set_errno[11] = EPERM;
  tasks(kBe1, "10\n11\n12\n");  // 12 exited before the scan
  auto s = slicer();
  TaskSliceCounts c = s->apply({kBe1, kBe2}, kLong, 1);  // kBe2 has no tasks file: gone
  EXPECT_EQ(c.set, 1u);
  EXPECT_EQ(c.vanished, 2u);
  EXPECT_EQ(c.failed, 1u);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_NE(c.errors[0].find("sched_setattr"), std::string::npos) << c.errors[0];
  // The failed task is tried again at the next scan.
  sched_.set_errno.clear();
  s->apply({kBe1, kBe2}, kLong, 2000);
  EXPECT_EQ(sched_.slice(11), kLong);
}

TEST_F(TaskSlicerTest, AGarbledRecordIsReportedAndReplaced) {
  {
    std::ofstream out(dir_ / "task-slices");
    out << "something else\n";
  }
  auto s = slicer();
  TaskSliceCounts c = s->reconcile();
  EXPECT_EQ(c.failed, 1u);
  ASSERT_FALSE(c.errors.empty());
  EXPECT_NE(c.errors[0].find("not a task-slice record"), std::string::npos) << c.errors[0];
  EXPECT_EQ(record(), "colo-task-slices 1\n");
}

}  // namespace
}  // namespace colo::kmods
