#include "agent/executor/executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "agent/executor/knob_value.h"
#include "common/fs.h"
#include "unit/executor/temp_dir.h"

namespace colo::executor {
namespace {

constexpr char kIdle[] = "/cg/cpu/be/pod1/cpu.idle";
constexpr char kQuota[] = "/cg/cpu/be/cpu.cfs_quota_us";
constexpr char kCpus[] = "/cg/cpuset/be/pod1/cpuset.cpus";

// FakeFs with a hook that runs before each write and can alter what the kernel "keeps".
class HookFs final : public FileSystem {
 public:
  FakeFs fake;
  std::function<void(const std::string&, std::string_view)> before_write;
  std::function<std::string(const std::string&, std::string_view)> mangle;
  int writes = 0;

  Result<std::string> readFile(const std::string& p) const override { return fake.readFile(p); }
  Status writeFile(const std::string& p, std::string_view d) override {
    ++writes;
    if (before_write) {
      before_write(p, d);
    }
    if (mangle) {
      std::string m = mangle(p, d);
      return fake.writeFile(p, m);
    }
    return fake.writeFile(p, d);
  }
  Result<std::vector<std::string>> listDirs(const std::string& p) const override {
    return fake.listDirs(p);
  }
  Result<uint64_t> inode(const std::string& p) const override { return fake.inode(p); }
  bool exists(const std::string& p) const override { return fake.exists(p); }
};

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.fake.put(kIdle, "0\n");
    fs_.fake.put(kQuota, "-1\n");
    fs_.fake.put(kCpus, "0-3\n");
    opts_.state_dir = dir_.path() + "/state";
    opts_.clock = [this] { return clock_ns_; };
  }
  std::unique_ptr<Executor> open() {
    auto ex = Executor::open(fs_, opts_);
    EXPECT_TRUE(ex) << ex.error().message();
    return ex ? std::move(*ex) : nullptr;
  }
  std::string value(const std::string& p) { return fs_.fake.readFile(p).value_or("<gone>"); }

  test::TempDir dir_;
  HookFs fs_;
  ExecutorOptions opts_;
  int64_t clock_ns_ = 1'000'000'000;
};

TEST_F(ExecutorTest, JournalsOldValueDurablyBeforeWriting) {
  auto ex = open();
  ASSERT_TRUE(ex->reconcile());
  bool journaled_first = false;
  fs_.before_write = [&](const std::string& p, std::string_view) {
    auto recs = readJournal(ex->journalFile());
    ASSERT_TRUE(recs);
    for (const auto& r : *recs) {
      if (r.type == RecordType::kWrite && r.path == p && r.old_value == "0" && r.new_value == "1") {
        journaled_first = true;
      }
    }
  };
  ASSERT_TRUE(ex->write(kIdle, "1", "BE pod"));
  EXPECT_TRUE(journaled_first);
  EXPECT_EQ(value(kIdle), "1\n");
  EXPECT_EQ(ex->health().writes, 1u);
}

TEST_F(ExecutorTest, UnchangedKnobIsNotWrittenOrJournaled) {
  auto ex = open();
  ASSERT_TRUE(ex->reconcile());
  ASSERT_TRUE(ex->write(kIdle, "0", "already"));
  EXPECT_EQ(fs_.writes, 0);
  EXPECT_TRUE(ex->baseline().empty());
  EXPECT_EQ(ex->health().unchanged, 1u);
}

TEST_F(ExecutorTest, FailedVerificationRollsBack) {
  auto ex = open();
  ASSERT_TRUE(ex->reconcile());
  // The "kernel" silently keeps something else than what was written.
  fs_.mangle = [](const std::string& p, std::string_view d) {
    return p == kQuota && d == "50000" ? std::string("40000") : std::string(d);
  };
  auto st = ex->write(kQuota, "50000", "cap");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), EIO);
  EXPECT_NE(st.error().message().find("read back \"40000\""), std::string::npos);
  EXPECT_EQ(value(kQuota), "-1\n");
  auto h = ex->health();
  EXPECT_EQ(h.rollbacks, 1u);
  EXPECT_EQ(h.failures, 1u);
  auto revs = listRevisions(opts_.state_dir);
  ASSERT_TRUE(revs);
  ASSERT_EQ(revs->size(), 1u);
  EXPECT_TRUE(revs->front().writes.front().outcome.starts_with("failed"));
}

TEST_F(ExecutorTest, FreezesAfterConsecutiveFailuresAndThawsOnAProbe) {
  opts_.freeze_after_failures = 3;
  opts_.freeze_probe_interval_ns = 5'000'000'000;
  auto ex = open();
  ASSERT_TRUE(ex->reconcile());
  fs_.fake.failWrites(kQuota, EROFS);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(ex->write(kQuota, std::to_string(10000 + i), "cap"));
  }
  auto h = ex->health();
  EXPECT_TRUE(h.frozen);
  EXPECT_FALSE(ex->writable());
  EXPECT_NE(h.reason.find("3 consecutive"), std::string::npos) << h.reason;
  // Frozen: nothing reaches cgroupfs, even knobs that would work.
  int writes = fs_.writes;
  auto st = ex->write(kIdle, "1", "BE pod");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ECANCELED);
  EXPECT_EQ(fs_.writes, writes);
  EXPECT_EQ(value(kIdle), "0\n");
  // After the probe interval one write is tried; its success thaws the executor.
  fs_.fake.failWrites(kQuota, 0);
  clock_ns_ += 6'000'000'000;
  ASSERT_TRUE(ex->write(kIdle, "1", "BE pod"));
  EXPECT_FALSE(ex->health().frozen);
  EXPECT_TRUE(ex->writable());
}

TEST_F(ExecutorTest, VanishedCgroupsDoNotFreeze) {
  opts_.freeze_after_failures = 2;
  auto ex = open();
  ASSERT_TRUE(ex->reconcile());
  for (int i = 0; i < 5; ++i) {
    auto st = ex->write("/cg/cpu/gone/cpu.idle", "1", "BE pod");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code(), ENOENT);
  }
  EXPECT_FALSE(ex->health().frozen);
  EXPECT_EQ(ex->health().vanished, 5u);
}

TEST_F(ExecutorTest, RateLimitsWrites) {
  opts_.max_writes_per_sec = 2;
  auto ex = open();
  ASSERT_TRUE(ex->reconcile());
  ASSERT_TRUE(ex->write(kQuota, "10000", "a"));
  ASSERT_TRUE(ex->write(kQuota, "20000", "b"));
  auto st = ex->write(kQuota, "30000", "c");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), EAGAIN);
  EXPECT_EQ(value(kQuota), "20000\n");
  EXPECT_EQ(ex->health().rate_limited, 1u);
  EXPECT_FALSE(ex->health().frozen);  // back-pressure, not a failure
  clock_ns_ += 1'000'000'000;
  EXPECT_TRUE(ex->write(kQuota, "30000", "c"));
}

TEST_F(ExecutorTest, RestoreAllPutsBackTheValueBeforeTheFirstWrite) {
  {
    auto ex = open();
    ASSERT_TRUE(ex->reconcile());
    ASSERT_TRUE(ex->write(kQuota, "50000", "cap"));
    ASSERT_TRUE(ex->write(kQuota, "20000", "tighter cap"));
    ASSERT_TRUE(ex->write(kIdle, "1", "BE pod"));
    ASSERT_TRUE(ex->write(kCpus, "2", "BE cpus"));
    auto rep = ex->restoreAll("SIGTERM");
    EXPECT_TRUE(rep.ok());
    EXPECT_EQ(rep.restored, 3u);
  }
  EXPECT_EQ(value(kQuota), "-1\n");
  EXPECT_EQ(value(kIdle), "0\n");
  EXPECT_EQ(value(kCpus), "0-3\n");
  // A clean shutdown leaves nothing to reconcile.
  auto ex = open();
  auto rep = ex->reconcile();
  ASSERT_TRUE(rep);
  EXPECT_FALSE(rep->had_crashed_run);
}

TEST_F(ExecutorTest, ReconcileAfterCrashRestoresAndDropsVanishedCgroups) {
  {
    auto ex = open();
    ASSERT_TRUE(ex->reconcile());
    ex->beginRevision("tick 1");
    ASSERT_TRUE(ex->write(kQuota, "50000", "cap"));
    ASSERT_TRUE(ex->write(kIdle, "1", "BE pod"));
    ex->endRevision();
    ex->beginRevision("tick 2");
    ASSERT_TRUE(ex->write(kQuota, "30000", "tighter"));
    ASSERT_TRUE(ex->write(kCpus, "3", "BE cpus"));
    ex->endRevision();
    // Crash: the executor goes away without restoreAll().
  }
  fs_.fake.remove("/cg/cpuset/be/pod1");  // the container vanished meanwhile
  auto ex = open();
  auto rep = ex->reconcile();
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_TRUE(rep->had_crashed_run);
  EXPECT_EQ(rep->restored, 2u);
  EXPECT_EQ(rep->vanished, 1u);
  EXPECT_TRUE(rep->errors.empty());
  EXPECT_EQ(value(kQuota), "-1\n");
  EXPECT_EQ(value(kIdle), "0\n");
  EXPECT_TRUE(ex->baseline().empty());
  // History survives the rotation: both ticks and the reconcile are listed.
  auto revs = listRevisions(opts_.state_dir);
  ASSERT_TRUE(revs);
  ASSERT_EQ(revs->size(), 3u);
  EXPECT_EQ((*revs)[0].reason, "tick 1");
  EXPECT_EQ((*revs)[1].reason, "tick 2");
  EXPECT_EQ((*revs)[2].reason, "reconcile after unclean shutdown");
  EXPECT_LT((*revs)[1].id, (*revs)[2].id);
}

TEST_F(ExecutorTest, KnobsThatCannotBeRestoredAreCarriedToTheNextRun) {
  {
    auto ex = open();
    ASSERT_TRUE(ex->reconcile());
    ASSERT_TRUE(ex->write(kQuota, "50000", "cap"));
  }
  fs_.fake.failWrites(kQuota, EBUSY);
  {
    auto ex = open();
    auto rep = ex->reconcile();
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->errors.size(), 1u);
    EXPECT_EQ(ex->baseline().count(kQuota), 1u);
  }
  EXPECT_EQ(value(kQuota), "50000\n");
  fs_.fake.failWrites(kQuota, 0);
  auto ex = open();
  auto rep = ex->reconcile();
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->had_crashed_run);
  EXPECT_EQ(value(kQuota), "-1\n");
}

TEST_F(ExecutorTest, RollbackUndoesOneRevision) {
  auto ex = open();
  ASSERT_TRUE(ex->reconcile());
  ex->beginRevision("tick 1");
  ASSERT_TRUE(ex->write(kIdle, "1", "BE pod"));
  auto rev1 = ex->currentRevision();
  ex->endRevision();
  ex->beginRevision("tick 2");
  ASSERT_TRUE(ex->write(kQuota, "50000", "cap"));
  auto rev2 = ex->currentRevision();
  ex->endRevision();
  ASSERT_TRUE(rev1 && rev2);
  auto rep = ex->rollback(*rev2);
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(rep->restored, 1u);
  EXPECT_EQ(value(kQuota), "-1\n");
  EXPECT_EQ(value(kIdle), "1\n");
  EXPECT_FALSE(ex->rollback(999));
  auto revs = listRevisions(opts_.state_dir);
  ASSERT_TRUE(revs);
  EXPECT_NE(revs->back().reason.find("rollback of revision"), std::string::npos);
}

TEST_F(ExecutorTest, CpusetsRestoreParentsWidenedFirstChildrenNarrowedFirst) {
  // v1 rule, enforced by this fake: a child's cpus must lie inside its parent's.
  const std::string pod = "/cg/cpuset/be/pod2/cpuset.cpus";
  const std::string ctr = "/cg/cpuset/be/pod2/c/cpuset.cpus";
  fs_.fake.put(pod, "0\n");
  fs_.fake.put(ctr, "0\n");
  auto parse = [](std::string_view s) {
    std::set<int> out;
    EXPECT_TRUE(parseCpuList(s, &out));
    return out;
  };
  std::string violation;
  fs_.before_write = [&](const std::string& p, std::string_view d) {
    auto want = parse(d);
    if (p == ctr) {
      auto parent = parse(value(pod));
      if (!std::includes(parent.begin(), parent.end(), want.begin(), want.end())) {
        violation = "child outside parent";
      }
    } else if (p == pod) {
      auto child = parse(value(ctr));
      if (!std::includes(want.begin(), want.end(), child.begin(), child.end())) {
        violation = "parent narrowed under child";
      }
    }
  };
  auto ex = open();
  ASSERT_TRUE(ex->reconcile());
  ASSERT_TRUE(ex->write(pod, "0-1", "widen"));
  ASSERT_TRUE(ex->write(ctr, "1", "move"));
  ASSERT_TRUE(ex->write(pod, "1", "narrow"));
  ASSERT_TRUE(violation.empty()) << violation;
  auto rep = ex->restoreAll("SIGTERM");
  EXPECT_TRUE(rep.ok());
  EXPECT_TRUE(violation.empty()) << violation;
  EXPECT_EQ(value(pod), "0\n");
  EXPECT_EQ(value(ctr), "0\n");
}

TEST_F(ExecutorTest, LongJournalIsCompactedAndStillRestores) {
  opts_.compact_after_records = 20;
  {
    auto ex = open();
    ASSERT_TRUE(ex->reconcile());
    for (int i = 0; i < 30; ++i) {
      ex->beginRevision("tick " + std::to_string(i));
      ASSERT_TRUE(ex->write(kQuota, std::to_string(10000 + i * 1000), "cap"));
      ASSERT_TRUE(ex->write(kIdle, i % 2 == 0 ? "1" : "0", "BE pod"));
      ex->endRevision();
    }
    auto recs = readJournal(ex->journalFile());
    ASSERT_TRUE(recs);
    EXPECT_LE(recs->size(), 30u);
    // Crash here: the compacted journal still knows the values from before the first write.
  }
  auto ex = open();
  auto rep = ex->reconcile();
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->had_crashed_run);
  EXPECT_TRUE(rep->errors.empty());
  EXPECT_EQ(value(kQuota), "-1\n");
  EXPECT_EQ(value(kIdle), "0\n");
  auto revs = listRevisions(opts_.state_dir);
  ASSERT_TRUE(revs);
  EXPECT_GE(revs->size(), 20u);  // the history is in the rotated journals
}

TEST_F(ExecutorTest, EmptyV2CpusetOfAPopulatedCgroupComesBackAsTheParentsCpus) {
  const std::string pod = "/cg/unified/be/pod9";
  fs_.fake.put(pod + "/cpuset.cpus", "\n");
  fs_.fake.put(pod + "/cpuset.cpus.effective", "0-3\n");
  fs_.fake.put(pod + "/c/cpuset.cpus", "\n");
  // The kernel refuses to empty a populated cgroup's cpuset.
  fs_.before_write = [&](const std::string& p, std::string_view d) {
    fs_.fake.failWrites(p, p == pod + "/c/cpuset.cpus" && d == "\n" ? ENOSPC : 0);
  };
  auto ex = open();
  ASSERT_TRUE(ex->reconcile());
  ASSERT_TRUE(ex->write(pod + "/cpuset.cpus", "1", "BE pod"));
  fs_.fake.put(pod + "/cpuset.cpus.effective", "1\n");
  ASSERT_TRUE(ex->write(pod + "/c/cpuset.cpus", "1", "BE cpus"));
  // restoreAll: the pod goes back to "" (inherits 0-3), then the container gets 0-3.
  fs_.before_write = [&](const std::string& p, std::string_view d) {
    fs_.fake.failWrites(p, p == pod + "/c/cpuset.cpus" && d == "\n" ? ENOSPC : 0);
    if (p == pod + "/cpuset.cpus" && d == "\n") {
      fs_.fake.put(pod + "/cpuset.cpus.effective", "0-3\n");
    }
  };
  auto rep = ex->restoreAll("SIGTERM");
  EXPECT_TRUE(rep.ok()) << rep.errors.front();
  EXPECT_EQ(rep.restored, 2u);
  ASSERT_EQ(rep.notes.size(), 1u);
  EXPECT_EQ(value(pod + "/cpuset.cpus"), "\n");
  EXPECT_EQ(value(pod + "/c/cpuset.cpus"), "0-3\n");
  EXPECT_FALSE(ex->health().frozen);
}

TEST_F(ExecutorTest, StateDirectoryHasOneOwner) {
  auto ex = open();
  auto second = Executor::open(fs_, opts_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), EBUSY);
  EXPECT_NE(second.error().message().find("owned by pid"), std::string::npos);
}

}  // namespace
}  // namespace colo::executor
