#include "common/fs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

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

// The kept-descriptor reads on real files: what a rewrite in place says is seen, a file larger
// than one read is read whole, in one piece or record by record alike.
TEST(RealFs, KeptReadsSeeRewritesAndLargeFiles) {
  char tmpl[] = "/tmp/colo-fs-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/f";
  auto write = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;  // same inode: the kept descriptor sees it
  };
  RealFs fs;
  write("usage 1\n");
  UniqueFd a, b;
  std::string out;
  ASSERT_TRUE(fs.readCgroupFileKeptInto(path, &a, &out));
  EXPECT_EQ(out, "usage 1\n");
  ASSERT_TRUE(fs.readFileKeptInto(path, &b, &out));
  EXPECT_EQ(out, "usage 1\n");
  const std::string big(10000, 'x');
  write(big);
  ASSERT_TRUE(fs.readCgroupFileKeptInto(path, &a, &out));
  EXPECT_EQ(out, big);
  ASSERT_TRUE(fs.readFileKeptInto(path, &b, &out));
  EXPECT_EQ(out, big);
  write("short\n");  // into a buffer grown by the big file
  ASSERT_TRUE(fs.readCgroupFileKeptInto(path, &a, &out));
  EXPECT_EQ(out, "short\n");
  std::filesystem::remove_all(tmpl);
  UniqueFd c;
  auto gone = fs.readCgroupFileKeptInto(path, &c, &out);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ENOENT);
}

TEST(WriteFileDurably, ReplacesTheFileAndLeavesNoTemporary) {
  auto dir =
      std::filesystem::temp_directory_path() / ("colo-fs-durable-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "state").string();
  ASSERT_TRUE(writeFileDurably(path, "first\n"));
  ASSERT_TRUE(writeFileDurably(path, "second\n"));
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "second\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto st = writeFileDurably((dir / "missing" / "state").string(), "x");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ENOENT) << st.error().message();
  EXPECT_EQ(dirOf(path), dir.string());
  EXPECT_EQ(dirOf("/state"), "/");
  EXPECT_EQ(dirOf("state"), ".");
  std::filesystem::remove_all(dir);
}

TEST(JoinPath, ExactlyOneSlash) {
  EXPECT_EQ(joinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(joinPath("/a", "b"), "/a/b");
}

}  // namespace
}  // namespace colo
