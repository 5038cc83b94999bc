// coloctl features / revisions / rollback, over fakes and a temporary state directory.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/executor/executor.h"
#include "cli/features_cmd.h"
#include "cli/revisions_cmd.h"
#include "unit/executor/temp_dir.h"
#include "unit/kmods/fake_kernel.h"

namespace colo::cli {
namespace {

TEST(FeaturesCmd, JsonIsParseableAndTableHasHeader) {
  auto f = kmods::test::v2Features();
  f.core_sched = "absent";
  f.sched_ext = "enabled";
  std::ostringstream js;
  EXPECT_EQ(printFeatures(f, true, js), 0);
  auto j = nlohmann::json::parse(js.str());
  EXPECT_EQ(j["sched_ext"], "enabled");
  EXPECT_EQ(j["cpuset_partition"], true);
  std::ostringstream table;
  EXPECT_EQ(printFeatures(f, false, table), 0);
  EXPECT_TRUE(table.str().starts_with("FEATURE"));
  EXPECT_NE(table.str().find("cpu.max.burst"), std::string::npos);
}

// Builds a state directory holding the journal of a run that crashed after two revisions, over
// the real file system (a plain file stands in for the knob).
class RevisionsCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    knob_ = dir_.path() + "/knob";
    RealFs fs;
    ASSERT_TRUE(writeFile(knob_, "0\n"));
    executor::ExecutorOptions opts;
    opts.state_dir = dir_.path() + "/state";
    state_ = opts.state_dir;
    auto ex = executor::Executor::open(fs, opts);
    ASSERT_TRUE(ex);
    ASSERT_TRUE((*ex)->reconcile());
    (*ex)->beginRevision("latency guard: squeeze BE");
    ASSERT_TRUE((*ex)->write(knob_, "1", "BE pod"));
    (*ex)->endRevision();
    (*ex)->beginRevision("suppression: BE budget 2 cores");
    ASSERT_TRUE((*ex)->write(knob_, "2", "BE cap"));
    (*ex)->endRevision();
  }
  static Status writeFile(const std::string& p, const std::string& v) {
    FILE* f = std::fopen(p.c_str(), "w");
    if (f == nullptr) {
      return failErrno(errno, p);
    }
    std::fputs(v.c_str(), f);
    std::fclose(f);
    return ok();
  }
  std::string knob() {
    RealFs fs;
    return fs.readFile(knob_).value_or("<gone>");
  }

  colo::test::TempDir dir_;
  std::string knob_;
  std::string state_;
};

TEST_F(RevisionsCmdTest, ListsRevisionsWithReasons) {
  std::ostringstream out, err;
  EXPECT_EQ(runRevisions(state_, false, out, err), 0);
  EXPECT_NE(out.str().find("latency guard: squeeze BE"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find(knob_ + ": 1 -> 2  [ok] BE cap"), std::string::npos) << out.str();
  std::ostringstream js;
  EXPECT_EQ(runRevisions(state_, true, js, err), 0);
  EXPECT_EQ(err.str(), "");
  auto j = nlohmann::json::parse(js.str());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["reason"], "suppression: BE budget 2 cores");
  EXPECT_EQ(j[1]["writes"][0]["old"], "1");
}

TEST_F(RevisionsCmdTest, RollbackIsRefusedWhileTheStateDirIsOwned) {
  // SetUp's executor is gone (a crashed agent); hold the lock as a running agent would.
  RealFs fs;
  executor::ExecutorOptions opts;
  opts.state_dir = state_;
  auto holder = executor::Executor::open(fs, opts);
  ASSERT_TRUE(holder);
  std::ostringstream out, err;
  EXPECT_EQ(runRollback(state_, "2", out, err), 2) << "the environment stood in the way: 2";
  EXPECT_NE(err.str().find("owned by pid"), std::string::npos) << err.str();
  EXPECT_EQ(out.str(), "") << "errors go to stderr";
  EXPECT_EQ(knob(), "2\n") << "nothing rolled back";
}

TEST_F(RevisionsCmdTest, RollbackOneRevisionThenAll) {
  std::ostringstream out, err;
  EXPECT_EQ(runRollback(state_, "2", out, err), 0) << err.str();
  EXPECT_EQ(knob(), "1\n");
  EXPECT_EQ(runRollback(state_, "all", out, err), 0) << err.str();
  EXPECT_EQ(knob(), "0\n");
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(runRollback(state_, "bogus", out, err), 1) << "a bad argument is a usage error: 1";
  EXPECT_NE(err.str().find("expected a revision number or \"all\""), std::string::npos);

  std::ostringstream out2, err2;
  EXPECT_EQ(runRevisions(knob_, false, out2, err2), 2) << "a file, not a state directory";
  EXPECT_NE(err2.str().find("coloctl revisions:"), std::string::npos) << err2.str();
}

}  // namespace
}  // namespace colo::cli
