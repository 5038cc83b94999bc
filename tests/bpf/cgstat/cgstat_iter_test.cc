// CgroupStatIter on the real kernel, in a colo-test-cgstat-* tree: every cgroup reported once
// under its inode, a busy leaf's usage against cpuacct.usage of the same leaf, an idle leaf at
// ~0, a throttled leaf's figures against its cpu.stat, removed cgroups gone from the next read,
// and clear errors for a missing or non-cgroup directory.
#include "bpf/cgstat_iter.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "support/privileged.h"
#include "support/process.h"
#include "support/test_cgroup.h"

namespace colo::bpf {
namespace {

using std::chrono::milliseconds;
using test::TestCgroupTree;

// The workload binary (tests/bpf/sched); COLO_SCHED_HELPER in the environment overrides it.
std::string helper() {
  const char* env = std::getenv("COLO_SCHED_HELPER");
  return env != nullptr ? env : COLO_SCHED_HELPER;
}

uint64_t inodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// "key value" lines of a cgroup file (cpu.stat).
std::map<std::string, uint64_t> readKeyed(const std::string& path) {
  std::map<std::string, uint64_t> out;
  auto text = RealFs().readFile(path);
  EXPECT_TRUE(text) << text.error().message();
  if (text) {
    std::istringstream in(*text);
    std::string key;
    uint64_t value = 0;
    while (in >> key >> value) {
      out[key] = value;
    }
  }
  return out;
}

uint64_t readNumber(const std::string& path) {
  auto text = RealFs().readFile(path);
  EXPECT_TRUE(text) << text.error().message();
  return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
}

class CgroupStatIterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COLO_REQUIRE_ROOT();
    if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
      COLO_SKIP_OR_FAIL("kernel has no BTF at /sys/kernel/btf/vmlinux");
    }
    auto tree = TestCgroupTree::create("cgstat");
    ASSERT_TRUE(tree) << tree.error().message();
    tree_.emplace(std::move(*tree));
    v2_ = tree_->version() == CgroupVersion::kV2;
    for (const char* rel : {"busy", "sleeper", "throttled", "mid", "mid/leaf"}) {
      ASSERT_TRUE(tree_->mkdir(rel)) << rel;
    }
    cpu_ = static_cast<int>(std::thread::hardware_concurrency()) - 1;
    ASSERT_GE(cpu_, 0);
    auto it = CgroupStatIter::open(dir(""));
    if (!it && it.error().code() != EPERM) {
      // The kernel predates iter/cgroup (6.1) or lacks cgroup iterators: feature missing.
      COLO_SKIP_OR_FAIL("cgroup iterator unavailable: " + it.error().message());
    }
    ASSERT_TRUE(it) << it.error().message();
    iter_ = std::move(*it);
  }

  void TearDown() override {
    iter_.reset();
    tree_.reset();
  }

  std::string dir(const std::string& rel) const { return tree_->path("cpu", rel); }
  // The same cgroup where cpu usage is accounted by the kernel's own file: cpuacct (v1).
  std::string acctDir(const std::string& rel) const { return tree_->path("cpuacct", rel); }

  std::vector<CgroupCpuFigures> read() {
    std::vector<CgroupCpuFigures> out;
    auto st = iter_->read(&out);
    EXPECT_TRUE(st) << st.error().message();
    return out;
  }

  static std::optional<CgroupCpuFigures> find(const std::vector<CgroupCpuFigures>& all,
                                              uint64_t id) {
    for (const auto& f : all) {
      if (f.id == id) {
        return f;
      }
    }
    return std::nullopt;
  }

  pid_t spawn(const std::string& rel, std::vector<std::string> argv) {
    auto pid = tree_->spawn(rel, argv, cpu_);
    EXPECT_TRUE(pid) << pid.error().message();
    return pid ? *pid : -1;
  }

  // The kernel's own usage figure of `rel` (ns): cpuacct.usage on v1, usage_usec on v2.
  uint64_t kernelUsageNs(const std::string& rel) {
    if (v2_) {
      return readKeyed(dir(rel) + "/cpu.stat")["usage_usec"] * 1000;
    }
    return readNumber(acctDir(rel) + "/cpuacct.usage");
  }

  struct Throttling {
    uint64_t nr_periods = 0;
    uint64_t nr_throttled = 0;
    uint64_t throttled_ns = 0;
  };
  Throttling cpuStat(const std::string& rel) {
    auto kv = readKeyed(dir(rel) + "/cpu.stat");
    Throttling t;
    t.nr_periods = kv["nr_periods"];
    t.nr_throttled = kv["nr_throttled"];
    t.throttled_ns = v2_ ? kv["throttled_usec"] * 1000 : kv["throttled_time"];
    return t;
  }

  std::optional<TestCgroupTree> tree_;
  std::unique_ptr<CgroupStatIter> iter_;
  bool v2_ = false;
  int cpu_ = 0;
};

TEST_F(CgroupStatIterTest, ReportsEveryCgroupOnceUnderItsInodeParentsFirst) {
  auto all = read();
  const std::vector<std::string> rels = {"", "busy", "sleeper", "throttled", "mid", "mid/leaf"};
  ASSERT_EQ(all.size(), rels.size()) << "the tree holds exactly these cgroups";
  for (const auto& rel : rels) {
    uint64_t id = inodeOf(dir(rel));
    ASSERT_NE(id, 0u) << rel;
    int seen = 0;
    for (const auto& f : all) {
      seen += f.id == id ? 1 : 0;
    }
    EXPECT_EQ(seen, 1) << "'" << rel << "' (inode " << id << ")";
  }
  // Pre-order from the directory given to open(): it comes first, a parent before its child.
  EXPECT_EQ(all.front().id, inodeOf(dir("")));
  auto top = find(all, inodeOf(dir("")));
  auto mid = find(all, inodeOf(dir("mid")));
  auto leaf = find(all, inodeOf(dir("mid/leaf")));
  ASSERT_TRUE(top && mid && leaf);
  EXPECT_EQ(mid->level, top->level + 1);
  EXPECT_EQ(leaf->level, top->level + 2);
  for (const auto& f : all) {
    EXPECT_TRUE(f.has_cpu_css) << "inode " << f.id;
    EXPECT_FALSE(f.partial) << "inode " << f.id;
  }
}

TEST_F(CgroupStatIterTest, LeavesOnlyReportsCgroupsWithoutChildren) {
  auto leaves = CgroupStatIter::open(dir(""), /*leaves_only=*/true);
  ASSERT_TRUE(leaves) << leaves.error().message();
  std::vector<CgroupCpuFigures> all;
  ASSERT_TRUE((*leaves)->read(&all));
  std::vector<uint64_t> ids;
  for (const auto& f : all) {
    ids.push_back(f.id);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<uint64_t> want;
  for (const char* rel : {"busy", "sleeper", "throttled", "mid/leaf"}) {
    want.push_back(inodeOf(dir(rel)));
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want) << "the top and mid (which have children) are left out";
  // A leaf that gets a child stops being reported (the agent reads its files instead). After
  // the child's rmdir the kernel keeps the dying child on the parent's list until it is freed
  // (asynchronously), so when the parent comes back is not asserted here.
  ASSERT_TRUE(tree_->mkdir("busy/child"));
  ASSERT_TRUE((*leaves)->read(&all));
  EXPECT_FALSE(find(all, inodeOf(dir("busy"))));
  EXPECT_TRUE(find(all, inodeOf(dir("busy/child"))));
  ASSERT_TRUE(tree_->rmdir("busy/child"));
}

TEST_F(CgroupStatIterTest, BusyUsageAgreesWithTheKernelsAccountingAndSleeperIsIdle) {
  pid_t busy = spawn("busy", {helper(), "spin"});
  pid_t sleeper = spawn("sleeper", {helper(), "sleeper", "1000000"});
  ASSERT_GT(busy, 0);
  ASSERT_GT(sleeper, 0);
  uint64_t busy_id = inodeOf(dir("busy"));
  uint64_t sleeper_id = inodeOf(dir("sleeper"));

  auto before = read();
  uint64_t acct_before = kernelUsageNs("busy");
  // A measurement window, not a wait for a condition: the busy loop accrues ~1 s of CPU.
  std::this_thread::sleep_for(milliseconds(1000));
  auto after = read();
  uint64_t acct_after = kernelUsageNs("busy");

  auto b0 = find(before, busy_id);
  auto b1 = find(after, busy_id);
  auto s0 = find(before, sleeper_id);
  auto s1 = find(after, sleeper_id);
  ASSERT_TRUE(b0 && b1 && s0 && s1);
  double iter_delta = static_cast<double>(b1->usage_ns - b0->usage_ns);
  double acct_delta = static_cast<double>(acct_after - acct_before);
  // The CPU is shared with whatever else runs on the machine: demand a real share, not all.
  EXPECT_GT(acct_delta, 0.2e9) << "the busy loop barely ran; is the machine saturated?";
  EXPECT_NEAR(iter_delta, acct_delta, 0.10 * acct_delta)
      << "iterator usage delta " << iter_delta << " ns vs kernel accounting " << acct_delta;
  EXPECT_LT(s1->usage_ns - s0->usage_ns, 20'000'000u) << "the sleeper wakes once a second";
}

TEST_F(CgroupStatIterTest, ThrottledFiguresMatchCpuStat) {
  if (v2_) {
    ASSERT_TRUE(RealFs().writeFile(dir("throttled") + "/cpu.max", "20000 100000"));
  } else {
    ASSERT_TRUE(RealFs().writeFile(dir("throttled") + "/cpu.cfs_period_us", "100000"));
    ASSERT_TRUE(RealFs().writeFile(dir("throttled") + "/cpu.cfs_quota_us", "20000"));
  }
  ASSERT_GT(spawn("throttled", {helper(), "spin"}), 0);
  uint64_t id = inodeOf(dir("throttled"));
  ASSERT_TRUE(
      test::pollUntil([&] { return cpuStat("throttled").nr_throttled >= 3; }, milliseconds(5000)))
      << "a busy loop under a 20 % quota was never throttled";

  // The figures only grow: the iterator's read lies between two reads of cpu.stat.
  Throttling lo = cpuStat("throttled");
  auto all = read();
  Throttling hi = cpuStat("throttled");
  auto f = find(all, id);
  ASSERT_TRUE(f);
  EXPECT_GE(f->nr_periods, lo.nr_periods);
  EXPECT_LE(f->nr_periods, hi.nr_periods);
  EXPECT_GE(f->nr_throttled, lo.nr_throttled);
  EXPECT_LE(f->nr_throttled, hi.nr_throttled);
  // v2 prints microseconds: compare at that resolution.
  uint64_t resolution = v2_ ? 1000 : 1;
  EXPECT_GE(f->throttled_ns / resolution, lo.throttled_ns / resolution);
  EXPECT_LE(f->throttled_ns / resolution, hi.throttled_ns / resolution);
  EXPECT_GT(f->throttled_ns, 0u);
  EXPECT_EQ(f->limit_mcpu, 200u) << "20 ms of quota per 100 ms period is 200 millicores";

  // Unlimited siblings report no throttling and no limit.
  auto busy = find(all, inodeOf(dir("busy")));
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->limit_mcpu, 0u);
  EXPECT_EQ(busy->nr_throttled, 0u);
  EXPECT_EQ(busy->throttled_ns, 0u);
}

TEST_F(CgroupStatIterTest, RemovedCgroupsVanishFromTheNextRead) {
  ASSERT_TRUE(tree_->mkdir("gone"));
  uint64_t id = inodeOf(dir("gone"));
  ASSERT_TRUE(find(read(), id)) << "a new cgroup shows up at once";
  ASSERT_TRUE(tree_->rmdir("gone"));
  auto all = read();
  EXPECT_FALSE(find(all, id)) << "a removed cgroup is still reported";
  EXPECT_EQ(all.size(), 6u);
}

TEST_F(CgroupStatIterTest, ReadReusesTheCallersVector) {
  std::vector<CgroupCpuFigures> out;
  out.reserve(64);
  const auto* data = out.data();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(iter_->read(&out));
    EXPECT_EQ(out.size(), 6u);
    EXPECT_EQ(out.data(), data) << "read " << i << " reallocated";
  }
}

// One read(2) of a cgroup iterator returns at most the kernel's seq buffer (8 pages) and the walk
// cannot resume in a second call: past that the read fails, it never returns a silent prefix.
TEST_F(CgroupStatIterTest, TreeLargerThanOneKernelReadIsAnErrorNotATruncation) {
  const int kCgroups = 900;  // 819 records of 40 bytes fill 32 KiB
  for (int i = 0; i < kCgroups; ++i) {
    ASSERT_TRUE(tree_->mkdir("many/c" + std::to_string(i)));
  }
  std::vector<CgroupCpuFigures> out;
  auto st = iter_->read(&out);
  if (st) {
    // A kernel with a larger buffer (bigger pages) returns everything: then all must be there.
    EXPECT_EQ(out.size(), 6u + 1 + kCgroups);
    return;
  }
  EXPECT_EQ(st.error().code(), EOPNOTSUPP) << st.error().message();
  EXPECT_NE(st.error().message().find("one iterator per subtree"), std::string::npos)
      << st.error().message();
}

// No privileges needed: the directory is checked before anything is loaded.
TEST(CgroupStatIterOpenTest, MissingDirectoryIsAClearError) {
  std::string missing = "/sys/fs/cgroup/cpu/colo-test-cgstat-missing-" + std::to_string(::getpid());
  auto it = CgroupStatIter::open(missing);
  ASSERT_FALSE(it);
  EXPECT_EQ(it.error().code(), ENOENT);
  EXPECT_NE(it.error().message().find(missing), std::string::npos) << it.error().message();
  EXPECT_NE(it.error().message().find("open cgroup directory"), std::string::npos)
      << it.error().message();
}

TEST(CgroupStatIterOpenTest, NonCgroupDirectoryIsAClearError) {
  auto it = CgroupStatIter::open("/tmp");
  ASSERT_FALSE(it);
  EXPECT_EQ(it.error().code(), EINVAL);
  EXPECT_NE(it.error().message().find("not a cgroup directory"), std::string::npos)
      << it.error().message();
}

}  // namespace
}  // namespace colo::bpf
