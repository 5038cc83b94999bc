#include "common/fs.h"

#include <gtest/gtest.h>

namespace colo {
namespace {

TEST(FakeFs, TreeListingAndInodes) {
  FakeFs fs;
  fs.mkdirs("/cg/kubepods/burstable/podabc");
  fs.put("/cg/kubepods/cpu.stat", "usage_usec 1\n");
  auto dirs = fs.listDirs("/cg/kubepods");
  ASSERT_TRUE(dirs);
  EXPECT_EQ(*dirs, std::vector<std::string>{"burstable"});
  auto a = fs.inode("/cg/kubepods");
  auto b = fs.inode("/cg/kubepods/burstable");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*fs.readFile("/cg/kubepods/cpu.stat"), "usage_usec 1\n");
}

TEST(FakeFs, RemoveTakesSubtreeAndReadsReportEnoent) {
  FakeFs fs;
  fs.put("/cg/a/b/cpu.stat", "x");
  fs.remove("/cg/a");
  EXPECT_FALSE(fs.exists("/cg/a/b"));
  auto r = fs.readFile("/cg/a/b/cpu.stat");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ENOENT);
}

TEST(FakeFs, InjectedWriteFailure) {
  FakeFs fs;
  fs.put("/cg/a/cpu.idle", "0\n");
  fs.failWrites("/cg/a/cpu.idle", EACCES);
  auto st = fs.writeFile("/cg/a/cpu.idle", "1");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), EACCES);
  EXPECT_EQ(*fs.readFile("/cg/a/cpu.idle"), "0\n");
  fs.failWrites("/cg/a/cpu.idle", 0);
  ASSERT_TRUE(fs.writeFile("/cg/a/cpu.idle", "1"));
  EXPECT_EQ(*fs.readFile("/cg/a/cpu.idle"), "1\n");
}

TEST(JoinPath, ExactlyOneSlash) {
  EXPECT_EQ(joinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(joinPath("/a", "b"), "/a/b");
}

}  // namespace
}  // namespace colo
