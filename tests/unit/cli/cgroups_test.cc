#include "cli/cgroups.h"

#include <gtest/gtest.h>

#include "unit/cli/fakes.h"

namespace colo::cli {
namespace {

using test::kCpuRoot;
using test::statsFor;
using test::World;

// Counts directory listings, to check the hierarchy is walked at most once.
class CountingFs final : public FileSystem {
 public:
  explicit CountingFs(const FileSystem& fs) : fs_(fs) {}
  Result<std::string> readFile(const std::string& p) const override { return fs_.readFile(p); }
  Status writeFile(const std::string&, std::string_view) override { return failErrno(EROFS, "w"); }
  Result<std::vector<std::string>> listDirs(const std::string& p) const override {
    ++lists;
    return fs_.listDirs(p);
  }
  Result<uint64_t> inode(const std::string& p) const override { return fs_.inode(p); }
  bool exists(const std::string& p) const override { return fs_.exists(p); }
  mutable int lists = 0;

 private:
  const FileSystem& fs_;
};

CgroupMounts cpuMounts() {
  CgroupMounts m;
  m.v1["cpu"] = kCpuRoot;
  return m;
}

TEST(CgroupResolver, WalksTheHierarchyOnceForUnnamedIds) {
  World w;
  uint64_t a = w.cgroup("/kubepods/burstable/poda/c1");
  uint64_t b = w.cgroup("/system.slice/nginx.service");
  uint64_t root = *w.fs.inode(kCpuRoot);
  CountingFs fs(w.fs);
  CgroupResolver r(fs, cpuMounts(), {});
  auto ra = r.resolve({bpf::Hierarchy::kV1Cpu, a});
  EXPECT_EQ(ra.state, CgroupResolver::State::kFound);
  EXPECT_EQ(ra.path, "/kubepods/burstable/poda/c1");
  EXPECT_EQ(ra.source, CgroupResolver::Source::kWalk);
  int lists_after_first = fs.lists;
  EXPECT_GT(lists_after_first, 0);
  EXPECT_EQ(r.resolve({bpf::Hierarchy::kV1Cpu, b}).path, "/system.slice/nginx.service");
  EXPECT_EQ(r.resolve({bpf::Hierarchy::kV1Cpu, root}).path, "/");
  EXPECT_EQ(r.resolve({bpf::Hierarchy::kV1Cpu, 999999}).state, CgroupResolver::State::kGone);
  EXPECT_EQ(fs.lists, lists_after_first);
}

TEST(CgroupResolver, BpfNamesAreVerifiedWithoutWalking) {
  World w;
  uint64_t a = w.cgroup("/new/one");
  CountingFs fs(w.fs);
  CgroupResolver r(fs, cpuMounts(), {{.cgroup = {bpf::Hierarchy::kV1Cpu, a}, .path = "/new/one"}});
  auto res = r.resolve({bpf::Hierarchy::kV1Cpu, a});
  EXPECT_EQ(res.state, CgroupResolver::State::kFound);
  EXPECT_EQ(res.path, "/new/one");
  EXPECT_EQ(res.source, CgroupResolver::Source::kBpf);
  EXPECT_EQ(fs.lists, 0);
}

TEST(CgroupResolver, V2IdsAreLookedUpOnTheUnifiedMount) {
  World w;
  w.fs.mkdirs("/sys/fs/cgroup/unified/system.slice/a.service");
  uint64_t v2 = *w.fs.inode("/sys/fs/cgroup/unified/system.slice/a.service");
  CgroupMounts m = cpuMounts();
  m.unified = "/sys/fs/cgroup/unified";
  CgroupResolver r(w.fs, m, {});
  auto res = r.resolve({bpf::Hierarchy::kV2, v2});
  EXPECT_EQ(res.state, CgroupResolver::State::kFound);
  EXPECT_EQ(res.path, "/system.slice/a.service");
  // The same id on the v1 cpu hierarchy is another cgroup: not found there.
  EXPECT_EQ(r.resolve({bpf::Hierarchy::kV1Cpu, v2}).state, CgroupResolver::State::kGone);
}

TEST(CgroupResolver, TruncatedBpfNameFallsBackToTheWalk) {
  World w;
  uint64_t a = w.cgroup("/a/very/long/path");
  CgroupResolver r(w.fs, cpuMounts(),
                   {{.cgroup = {bpf::Hierarchy::kV1Cpu, a}, .path = "/a/very", .truncated = true}});
  EXPECT_EQ(r.resolve({bpf::Hierarchy::kV1Cpu, a}).path, "/a/very/long/path");
}

TEST(CgroupResolver, StaleBpfNameIsGone) {
  World w;
  uint64_t a = w.cgroup("/old");
  w.fs.remove(std::string(kCpuRoot) + "/old");
  CgroupResolver r(w.fs, cpuMounts(), {{.cgroup = {bpf::Hierarchy::kV1Cpu, a}, .path = "/old"}});
  EXPECT_EQ(r.resolve({bpf::Hierarchy::kV1Cpu, a}).state, CgroupResolver::State::kGone);
}

TEST(CgroupResolver, WithoutMountsTrustsBpfNames) {
  World w;
  CgroupResolver r(w.fs, std::nullopt, {{.cgroup = {bpf::Hierarchy::kV1Cpu, 5}, .path = "/x"}});
  auto named = r.resolve({bpf::Hierarchy::kV1Cpu, 5});
  EXPECT_EQ(named.state, CgroupResolver::State::kUnknown);
  EXPECT_EQ(named.path, "/x");
  EXPECT_EQ(r.resolve({bpf::Hierarchy::kV1Cpu, 6}).state, CgroupResolver::State::kUnknown);
}

TEST(CollectMaps, JoinsStatsTiersPathsAndIdentity) {
  World w;
  uint64_t ls = w.cgroup("/kubepods/burstable/podu1/c1");
  uint64_t be = w.cgroup("/kubepods/besteffort/podu2/c2");
  uint64_t gone = 424242;
  w.maps.stats = {statsFor(ls, 10, 12), statsFor(gone, 5, 3)};
  w.maps.tiers = {{{bpf::Hierarchy::kV1Cpu, ls}, bpf::Tier::kLS},
                  {{bpf::Hierarchy::kV1Cpu, be}, bpf::Tier::kBE}};
  auto reader = *w.env.open_maps("/p");
  auto snap = collectMaps(*reader, w.env, false);
  ASSERT_TRUE(snap);
  ASSERT_EQ(snap->rows.size(), 2u);  // the removed cgroup is left out
  const CgroupRow& r0 = snap->rows[0].ref.id == ls ? snap->rows[0] : snap->rows[1];
  const CgroupRow& r1 = snap->rows[0].ref.id == ls ? snap->rows[1] : snap->rows[0];
  EXPECT_EQ(r0.tier, bpf::Tier::kLS);
  EXPECT_TRUE(r0.has_stats);
  EXPECT_EQ(r0.stats.count, 10u);
  EXPECT_EQ(r0.displayName(), "podu1/c1");
  EXPECT_EQ(r0.id(), "c1");
  EXPECT_EQ(r1.tier, bpf::Tier::kBE);
  EXPECT_FALSE(r1.has_stats);
  EXPECT_EQ(r1.identity.qos, "besteffort");

  auto all = collectMaps(*reader, w.env, true);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->rows.size(), 3u);
  bool saw_gone = false;
  for (const auto& row : all->rows) {
    if (row.ref.id == gone) {
      saw_gone = true;
      EXPECT_TRUE(row.gone);
      EXPECT_EQ(row.id(), "424242");
    }
  }
  EXPECT_TRUE(saw_gone);
}

TEST(CollectMaps, NonKubernetesCgroupShowsItsPath) {
  World w;
  uint64_t id = w.cgroup("/system.slice/redis.service");
  w.maps.stats = {statsFor(id, 1, 5)};
  auto reader = *w.env.open_maps("/p");
  auto snap = collectMaps(*reader, w.env, false);
  ASSERT_TRUE(snap);
  ASSERT_EQ(snap->rows.size(), 1u);
  EXPECT_EQ(snap->rows[0].displayName(), "/system.slice/redis.service");
  EXPECT_EQ(snap->rows[0].id(), "/system.slice/redis.service");
}

}  // namespace
}  // namespace colo::cli
