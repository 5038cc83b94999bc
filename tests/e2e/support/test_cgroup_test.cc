// The test cgroup helper itself: creates, places a process, and leaves nothing behind.
#include "support/test_cgroup.h"

#include <gtest/gtest.h>

#include "common/fs.h"
#include "support/privileged.h"

namespace colo::test {
namespace {

TEST(TestCgroupTree, SpawnsIntoCgroupAndCleansUp) {
  COLO_REQUIRE_ROOT();
  std::string top_path;
  {
    auto tree = TestCgroupTree::create("support");
    ASSERT_TRUE(tree) << tree.error().message();
    ASSERT_TRUE(tree->mkdir("a/b"));
    auto pid = tree->spawn("a/b", {"sleep", "30"}, 0);
    ASSERT_TRUE(pid) << pid.error().message();
    RealFs fs;
    auto procs = fs.readFile(tree->path("cpu", "a/b") + "/cgroup.procs");
    ASSERT_TRUE(procs);
    EXPECT_NE(procs->find(std::to_string(*pid)), std::string::npos);
    top_path = tree->path("cpu");
  }
  RealFs fs;
  EXPECT_FALSE(fs.exists(top_path));
}

}  // namespace
}  // namespace colo::test
