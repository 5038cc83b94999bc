#include "agent/collector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "fake_sched.h"

namespace colo::agent {
namespace {

using bpf::Tier;
using test::FakeSched;

constexpr char kCpu[] = "/sys/fs/cgroup/cpu";
constexpr char kCpuacct[] = "/sys/fs/cgroup/cpuacct";
constexpr char kV2[] = "/sys/fs/cgroup";
constexpr char kMem[] = "/sys/fs/cgroup/memory";
constexpr uint64_t kMiB = 1 << 20;
constexpr int64_t kSec = 1'000'000'000;

const std::string kUidLs = "11111111-2222-3333-4444-555555555555";
const std::string kUidBe = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const std::string kUidG = "99999999-8888-7777-6666-555555555555";
const std::string kIdLs(64, 'a');
const std::string kIdBe(64, 'b');
const std::string kIdG(64, 'c');
const std::string kLsPath = "/kubepods/burstable/pod" + kUidLs + "/" + kIdLs;
const std::string kBePath = "/kubepods/besteffort/pod" + kUidBe + "/" + kIdBe;
const std::string kGPath = "/kubepods/pod" + kUidG + "/" + kIdG;

// A FileSystem that runs a hook before delegating, to make things vanish mid-operation.
class HookFs final : public FileSystem {
 public:
  explicit HookFs(FakeFs& fs) : fs_(fs) {}
  std::function<void(const std::string&)> on_read, on_list;
  Result<std::string> readFile(const std::string& path) const override {
    if (on_read) {
      on_read(path);
    }
    return fs_.readFile(path);
  }
  Status writeFile(const std::string& path, std::string_view data) override {
    return fs_.writeFile(path, data);
  }
  Result<std::vector<std::string>> listDirs(const std::string& path) const override {
    auto out = fs_.listDirs(path);
    if (on_list) {
      on_list(path);
    }
    return out;
  }
  Result<uint64_t> inode(const std::string& path) const override { return fs_.inode(path); }
  bool exists(const std::string& path) const override { return fs_.exists(path); }

 private:
  FakeFs& fs_;
};

// v1 kubelet tree: cpu and cpuacct are separate mounts, as on the test machine.
void putV1(FakeFs& fs, const std::string& rel, uint64_t usage_ns, uint64_t periods = 0,
           uint64_t throttled = 0, uint64_t throttled_ns = 0) {
  fs.put(joinPath(kCpu, rel) + "/cpu.stat",
         fmt::format("nr_periods {}\nnr_throttled {}\nthrottled_time {}\nnr_bursts 0\n"
                     "burst_time 0\n",
                     periods, throttled, throttled_ns));
  fs.put(joinPath(kCpuacct, rel) + "/cpuacct.usage", fmt::format("{}\n", usage_ns));
}

void putV2(FakeFs& fs, const std::string& rel, uint64_t usage_us, uint64_t periods = 0,
           uint64_t throttled = 0, uint64_t throttled_us = 0) {
  fs.put(joinPath(kV2, rel) + "/cpu.stat",
         fmt::format("usage_usec {}\nuser_usec 0\nsystem_usec 0\nnr_periods {}\nnr_throttled {}\n"
                     "throttled_usec {}\n",
                     usage_us, periods, throttled, throttled_us));
}

// v1 memory files of `rel`: usage_in_bytes, and a memory.stat whose own inactive_file differs
// from the hierarchical total_inactive_file (the one that counts).
void putMemV1(FakeFs& fs, const std::string& rel, uint64_t usage, uint64_t inactive_file) {
  fs.put(joinPath(kMem, rel) + "/memory.usage_in_bytes", fmt::format("{}\n", usage));
  fs.put(joinPath(kMem, rel) + "/memory.stat",
         fmt::format("cache 0\nrss 0\ninactive_file 1\nactive_file 0\n"
                     "hierarchical_memory_limit 9223372036854771712\ntotal_cache 0\n"
                     "total_rss {}\ntotal_inactive_file {}\ntotal_active_file 0\n",
                     usage - inactive_file, inactive_file));
}

void putMemV2(FakeFs& fs, const std::string& rel, uint64_t current, uint64_t inactive_file) {
  fs.put(joinPath(kV2, rel) + "/memory.current", fmt::format("{}\n", current));
  fs.put(joinPath(kV2, rel) + "/memory.stat",
         fmt::format("anon {}\nfile {}\nworkingset_refault_file 7\ninactive_anon 0\n"
                     "active_anon 0\ninactive_file {}\nactive_file 0\n",
                     current - inactive_file, inactive_file, inactive_file));
}

void buildV1Tree(FakeFs& fs) {
  for (const char* m : {kCpu, kCpuacct}) {
    fs.mkdirs(std::string(m) + "/system.slice");
    fs.mkdirs(std::string(m) + "/kubepods/burstable/pod" + kUidLs);
  }
  putV1(fs, kLsPath, 0);
  putV1(fs, kBePath, 0);
  putV1(fs, kGPath, 0);
  // Pod-level files exist too; pods are not containers.
  putV1(fs, "/kubepods/burstable/pod" + kUidLs, 0);
}

CollectorOptions v1Options() {
  CollectorOptions o;
  o.version = CgroupVersion::kV1;
  o.cpu_mount = kCpu;
  o.cpuacct_mount = kCpuacct;
  o.kubelet_root = "/kubepods";
  o.window_ticks = 5;
  o.thresholds_ns = {0, 0, 4'000'000, 2'000'000, 1'000'000};
  return o;
}

// v1Options with the memory hierarchy at kMem, read every `every` ticks.
CollectorOptions v1MemOptions(uint32_t every) {
  CollectorOptions o = v1Options();
  o.memory_mount = kMem;
  o.memory_version = CgroupVersion::kV1;
  o.memory_every_ticks = every;
  return o;
}

const ContainerView* find(const Snapshot& s, const std::string& cgroup) {
  for (const auto& c : s.containers) {
    if (c.cgroup == cgroup) {
      return &c;
    }
  }
  return nullptr;
}

uint64_t inodeOf(const FakeFs& fs, const std::string& rel) {
  return *fs.inode(joinPath(kCpu, rel));
}

TEST(CollectorTest, DiscoversTheKubeletTreeAndWritesTiers) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  EXPECT_EQ(col.size(), 3u);
  EXPECT_EQ(sched.tiers.at(inodeOf(fs, kLsPath)), Tier::kLS);
  EXPECT_EQ(sched.tiers.at(inodeOf(fs, kBePath)), Tier::kBE);
  EXPECT_EQ(sched.tiers.at(inodeOf(fs, kGPath)), Tier::kLS);
  EXPECT_EQ(sched.hierarchies.at(inodeOf(fs, kLsPath)), bpf::Hierarchy::kV1Cpu);
  EXPECT_EQ(sched.thresholds[static_cast<int>(Tier::kLSX)], 1'000'000u);
  EXPECT_EQ(sched.thresholds[static_cast<int>(Tier::kLS)], 4'000'000u);

  col.tick(kSec);
  auto snap = col.snapshot();
  ASSERT_EQ(snap->containers.size(), 3u);
  const ContainerView* be = find(*snap, kBePath);
  ASSERT_NE(be, nullptr);
  EXPECT_EQ(be->id, kIdBe);
  EXPECT_EQ(be->pod_uid, kUidBe);
  EXPECT_EQ(be->name, "pod" + kUidBe + "/" + kIdBe);
  EXPECT_EQ(be->qos, "besteffort");
  EXPECT_EQ(be->tier, Tier::kBE);
  EXPECT_EQ(be->cgroup_id, inodeOf(fs, kBePath));
  EXPECT_EQ(find(*snap, kGPath)->qos, "guaranteed");
}

TEST(CollectorTest, MissingKubeletRootIsNotAnError) {
  FakeFs fs;
  fs.mkdirs(kCpu);
  fs.mkdirs(kCpuacct);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  EXPECT_EQ(col.size(), 0u);
  col.tick(kSec);
  EXPECT_EQ(col.stats().read_errors, 0u);
}

TEST(CollectorTest, MissingCpuMountIsAnError) {
  FakeFs fs;
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  EXPECT_FALSE(col.start());
}

TEST(CollectorTest, V1CpuUsageAndThrottling) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  putV1(fs, kLsPath, 1 * kSec, 100, 10, 5'000'000);
  col.tick(10 * kSec);
  auto first = col.snapshot();
  const ContainerView* ls = find(*first, kLsPath);
  ASSERT_TRUE(ls->have_cpu);
  EXPECT_EQ(ls->usage_cores, 0.0) << "no rate from one reading";
  EXPECT_EQ(ls->cpu.usage_ns, uint64_t(kSec));
  EXPECT_EQ(ls->cpu.nr_throttled, 10u);
  EXPECT_EQ(ls->cpu.throttled_ns, 5'000'000u);

  // 1.5 s of CPU over 2 s, 4 of 20 periods throttled.
  putV1(fs, kLsPath, 1 * kSec + 3 * kSec / 2, 120, 14, 9'000'000);
  col.tick(12 * kSec);
  auto second = col.snapshot();
  ls = find(*second, kLsPath);
  EXPECT_NEAR(ls->usage_cores, 0.75, 1e-9);
  EXPECT_NEAR(ls->throttled_pct, 20.0, 1e-9);
  EXPECT_EQ(ls->cpu.nr_periods, 120u);
  EXPECT_FALSE(ls->psi) << "v1 here has no cpu.pressure: null, not an error";
  EXPECT_EQ(col.stats().read_errors, 0u);
}

TEST(CollectorTest, V2FormatsAndPsi) {
  FakeFs fs;
  fs.mkdirs(kV2);
  const std::string a = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                        std::string("aaaaaaaa_bbbb_cccc_dddd_eeeeeeeeeeee.slice/cri-containerd-") +
                        kIdBe + ".scope";
  const std::string b = "/kubepods.slice/kubepods-pod" +
                        std::string("11111111_2222_3333_4444_555555555555.slice/crio-") + kIdLs +
                        ".scope";
  putV2(fs, a, 0);
  putV2(fs, b, 0);
  fs.put(joinPath(kV2, a) + "/cpu.pressure",
         "some avg10=2.50 avg60=1.00 avg300=0.50 total=100\n"
         "full avg10=1.25 avg60=0.00 avg300=0.00 total=50\n");
  FakeSched sched;
  CollectorOptions o;
  o.version = CgroupVersion::kV2;
  o.cpu_mount = kV2;
  o.kubelet_root = "/kubepods.slice";
  Collector col(fs, sched, o);
  ASSERT_TRUE(col.start());
  ASSERT_EQ(col.size(), 2u);
  EXPECT_EQ(sched.hierarchies.at(*fs.inode(joinPath(kV2, a))), bpf::Hierarchy::kV2);
  col.tick(kSec);
  putV2(fs, a, 250'000, 10, 5, 100);
  col.tick(kSec + kSec / 2);
  auto snap = col.snapshot();
  const ContainerView* ca = find(*snap, a);
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(ca->tier, Tier::kBE);
  EXPECT_EQ(ca->runtime, "containerd");
  EXPECT_NEAR(ca->usage_cores, 0.5, 1e-9);
  EXPECT_NEAR(ca->throttled_pct, 50.0, 1e-9);
  EXPECT_EQ(ca->cpu.throttled_ns, 100'000u);
  ASSERT_TRUE(ca->psi);
  EXPECT_DOUBLE_EQ(ca->psi->some_avg10, 2.5);
  EXPECT_DOUBLE_EQ(*ca->psi->full_avg10, 1.25);
  const ContainerView* cb = find(*snap, b);
  ASSERT_NE(cb, nullptr);
  EXPECT_EQ(cb->qos, "guaranteed");
  EXPECT_EQ(cb->runtime, "crio");
  EXPECT_FALSE(cb->psi);
  EXPECT_EQ(col.stats().read_errors, 0u);
}

TEST(CollectorTest, BpfDeltasWindowAndCounterReset) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());  // window: 5 ticks
  ASSERT_TRUE(col.start());
  uint64_t ls = inodeOf(fs, kLsPath);
  auto& e = sched.entry(ls);
  e.count = 100;  // history from before the agent started: a baseline
  e.hist[10] = 100;
  e.sum_ns = 100 * 1500;
  e.waited_behind_lower = 3;
  col.tick(kSec);
  const ContainerView* v = find(*col.snapshot(), kLsPath);
  EXPECT_EQ(v->runq_count, 100u);
  EXPECT_EQ(v->runq_delta_count, 0u);
  EXPECT_FALSE(v->p50_ns);

  e.count = 110;  // +10 delays: 9 around 1.5 us, 1 around 5 ms
  e.hist[10] = 109;
  e.hist[22] = 1;
  e.sum_ns = 100 * 1500 + 9 * 1500 + 5'000'000;
  e.max_ns = 5'000'000;
  e.waited_behind_lower = 5;
  e.preemptions = 7;
  col.tick(2 * kSec);
  auto snap = col.snapshot();
  v = find(*snap, kLsPath);
  EXPECT_EQ(v->runq_count, 110u);
  EXPECT_EQ(v->runq_delta_count, 10u);
  EXPECT_EQ(v->waited_behind_lower, 5u);
  EXPECT_EQ(v->waited_behind_lower_delta, 2u);
  EXPECT_EQ(v->preemptions, 7u);
  EXPECT_EQ(v->runq_max_ns, 5'000'000u);
  EXPECT_EQ(v->p50_ns, 2048u);
  EXPECT_EQ(v->p90_ns, 2048u);
  EXPECT_EQ(v->p99_ns, uint64_t{2} << 22);
  EXPECT_EQ(v->mean_ns, (9 * 1500 + 5'000'000) / 10);
  EXPECT_EQ(v->hist_window[10], 9u);
  EXPECT_EQ(v->hist_window[22], 1u);

  // Entry re-created (counters restart below the previous values): the new values are deltas.
  bpf::CgroupSchedStats fresh;
  fresh.cgroup = e.cgroup;
  fresh.count = 4;
  fresh.hist[5] = 4;
  fresh.sum_ns = 4 * 40;
  sched.stats[ls] = fresh;
  col.tick(3 * kSec);
  v = find(*col.snapshot(), kLsPath);
  EXPECT_EQ(v->runq_delta_count, 4u);
  EXPECT_EQ(v->hist_window[5], 4u);
  EXPECT_EQ(v->hist_window[10], 9u);

  // Five quiet ticks: the window forgets everything.
  for (int i = 0; i < 5; ++i) {
    col.tick((4 + i) * kSec);
  }
  v = find(*col.snapshot(), kLsPath);
  EXPECT_EQ(v->runq_delta_count, 0u);
  EXPECT_FALSE(v->p99_ns);
  EXPECT_FALSE(v->mean_ns);
  EXPECT_EQ(v->runq_count, 4u);
}

TEST(CollectorTest, StatsOfOtherCgroupsAndHierarchiesAreIgnored) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  sched.entry(999999).count = 5;  // not a container
  uint64_t ls = inodeOf(fs, kLsPath);
  col.tick(kSec);
  // Same id, other hierarchy: not ours.
  sched.stats.clear();
  sched.entry(ls, bpf::Hierarchy::kV2).count = 50;
  col.tick(2 * kSec);
  EXPECT_EQ(find(*col.snapshot(), kLsPath)->runq_count, 0u);
}

TEST(CollectorTest, ContainerAddedLaterCountsItsFirstEntryInFull) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  const std::string path = "/kubepods/burstable/pod" + kUidLs + "/" + std::string(64, 'd');
  putV1(fs, path, 0);
  bpf::CgroupEvent ev;
  ev.kind = bpf::CgroupEvent::Kind::kMkdir;
  ev.path = path;
  ev.cgroup = {bpf::Hierarchy::kV1Cpu, inodeOf(fs, path)};
  col.onCgroupEvent(ev);
  auto& e = sched.entry(inodeOf(fs, path));
  e.count = 3;
  e.hist[12] = 3;
  col.tick(kSec);
  const ContainerView* v = find(*col.snapshot(), path);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->runq_delta_count, 3u);
  EXPECT_EQ(v->p50_ns, 8192u);
}

TEST(CollectorTest, MkdirAndRmdirEventsWithoutRescanning) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  const std::string pod = "/kubepods/besteffort/pod" + kUidLs;
  const std::string path = pod + "/" + std::string(64, 'e');
  putV1(fs, path, 0);

  HookFs hook(fs);
  int lists = 0;
  hook.on_list = [&](const std::string&) { ++lists; };
  Collector watched(hook, sched, v1Options());
  ASSERT_TRUE(watched.start());
  lists = 0;

  bpf::CgroupEvent mk;
  mk.kind = bpf::CgroupEvent::Kind::kMkdir;
  mk.path = pod;  // pod level: not a container
  mk.cgroup = {bpf::Hierarchy::kV1Cpu, inodeOf(fs, pod)};
  watched.onCgroupEvent(mk);
  size_t before = watched.size();
  mk.path = path;
  mk.cgroup.id = inodeOf(fs, path);
  watched.onCgroupEvent(mk);
  EXPECT_EQ(watched.size(), before);  // already found by the scan: idempotent

  const std::string late = pod + "/" + std::string(64, 'f');
  putV1(fs, late, 0);
  mk.path = late;
  mk.cgroup.id = inodeOf(fs, late);
  watched.onCgroupEvent(mk);
  EXPECT_EQ(watched.size(), before + 1);
  EXPECT_EQ(sched.tiers.at(inodeOf(fs, late)), Tier::kBE);
  watched.tick(kSec);
  EXPECT_NE(find(*watched.snapshot(), late), nullptr);

  // An event of another hierarchy is ignored.
  const std::string other = pod + "/" + std::string(64, '1');
  putV1(fs, other, 0);
  mk.path = other;
  mk.cgroup = {bpf::Hierarchy::kV2, inodeOf(fs, other)};
  watched.onCgroupEvent(mk);
  EXPECT_EQ(watched.size(), before + 1);

  // rmdir of a directory that still exists (re-created) does nothing; a real one removes it.
  uint64_t late_id = inodeOf(fs, late);
  bpf::CgroupEvent rm;
  rm.kind = bpf::CgroupEvent::Kind::kRmdir;
  rm.path = late;
  rm.cgroup = {bpf::Hierarchy::kV1Cpu, late_id};
  watched.onCgroupEvent(rm);
  EXPECT_EQ(watched.size(), before + 1);
  fs.remove(joinPath(kCpu, late));
  fs.remove(joinPath(kCpuacct, late));
  watched.onCgroupEvent(rm);
  EXPECT_EQ(watched.size(), before);
  EXPECT_EQ(sched.forgotten.back(), late_id);
  EXPECT_EQ(watched.stats().cgroup_mkdir_events, 4u);
  EXPECT_EQ(watched.stats().cgroup_rmdir_events, 2u);

  watched.tick(2 * kSec);
  EXPECT_EQ(lists, 0) << "events and ticks must not list directories";
}

TEST(CollectorTest, MkdirEventWhosePathIsAnotherCgroupIsIgnored) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  size_t before = col.size();
  const std::string path = "/kubepods/burstable/pod" + kUidLs + "/" + std::string(64, '7');
  putV1(fs, path, 0);
  bpf::CgroupEvent mk;
  mk.kind = bpf::CgroupEvent::Kind::kMkdir;
  mk.path = path;
  mk.cgroup = {bpf::Hierarchy::kV1Cpu, inodeOf(fs, path) + 1000};  // stale: removed, re-created
  col.onCgroupEvent(mk);
  EXPECT_EQ(col.size(), before);
  EXPECT_EQ(col.stats().events_mismatched, 1u);
  col.resync();  // the safety net finds the directory that is there now
  EXPECT_EQ(col.size(), before + 1);
}

TEST(CollectorTest, ResyncFindsWhatEventsMissed) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  col.resync();
  EXPECT_EQ(col.stats().resync_differences, 0u);

  const std::string missed = "/kubepods/burstable/pod" + kUidLs + "/" + std::string(64, '2');
  putV1(fs, missed, 0);
  fs.remove(joinPath(kCpu, kGPath));
  fs.remove(joinPath(kCpuacct, kGPath));
  col.resync();
  EXPECT_EQ(col.stats().resync_differences, 2u);
  EXPECT_EQ(col.stats().resyncs, 2u);
  col.tick(kSec);
  auto snap = col.snapshot();
  EXPECT_NE(find(*snap, missed), nullptr);
  EXPECT_EQ(find(*snap, kGPath), nullptr);
}

TEST(CollectorTest, ResyncNoticesARecreatedCgroup) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  uint64_t old_id = inodeOf(fs, kBePath);
  fs.remove(joinPath(kCpu, kBePath));
  putV1(fs, kBePath, 0);
  ASSERT_NE(inodeOf(fs, kBePath), old_id);
  col.resync();
  col.tick(kSec);
  EXPECT_EQ(find(*col.snapshot(), kBePath)->cgroup_id, inodeOf(fs, kBePath));
  EXPECT_EQ(sched.tiers.count(old_id), 0u);
}

TEST(CollectorTest, ContainerVanishingBetweenScanAndReadIsDroppedQuietly) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  uint64_t be = inodeOf(fs, kBePath);
  fs.remove(joinPath(kCpu, kBePath));
  fs.remove(joinPath(kCpuacct, kBePath));
  col.tick(kSec);
  EXPECT_EQ(col.size(), 2u);
  EXPECT_EQ(col.stats().containers_vanished, 1u);
  EXPECT_EQ(col.stats().read_errors, 0u);
  EXPECT_EQ(sched.forgotten, std::vector<uint64_t>{be});
  EXPECT_EQ(find(*col.snapshot(), kBePath), nullptr);
  EXPECT_TRUE(col.healthProblem().empty());
}

TEST(CollectorTest, ContainerVanishingMidReadIsDroppedQuietly) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  HookFs hook(fs);
  Collector col(hook, sched, v1Options());
  ASSERT_TRUE(col.start());
  // cpu.stat reads fine, then the cgroup goes before cpuacct.usage is read.
  hook.on_read = [&](const std::string& path) {
    if (path == joinPath(kCpu, kLsPath) + "/cpu.stat") {
      fs.remove(joinPath(kCpu, kLsPath));
      fs.remove(joinPath(kCpuacct, kLsPath));
    }
  };
  col.tick(kSec);
  EXPECT_EQ(col.size(), 2u);
  EXPECT_EQ(col.stats().containers_vanished, 1u);
  EXPECT_EQ(col.stats().read_errors, 0u);
  col.tick(2 * kSec);
  EXPECT_EQ(col.size(), 2u);
}

TEST(CollectorTest, ContainerVanishingDuringTheScanIsSkipped) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  HookFs hook(fs);
  // Listed, then gone before its id is read.
  hook.on_list = [&](const std::string& path) {
    if (path == joinPath(kCpu, "/kubepods/besteffort/pod" + kUidBe)) {
      fs.remove(joinPath(kCpu, kBePath));
    }
  };
  Collector col(hook, sched, v1Options());
  ASSERT_TRUE(col.start());
  EXPECT_EQ(col.size(), 2u);
  EXPECT_EQ(col.stats().read_errors, 0u);
}

TEST(CollectorTest, OtherReadErrorsAreCountedAndTheContainerKept) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  fs.failReads(joinPath(kCpu, kLsPath) + "/cpu.stat", EACCES);
  fs.put(joinPath(kCpuacct, kBePath) + "/cpuacct.usage", "garbage\n");
  col.tick(kSec);
  EXPECT_EQ(col.size(), 3u);
  EXPECT_EQ(col.stats().read_errors, 2u);
  EXPECT_EQ(col.stats().containers_vanished, 0u);
}

TEST(CollectorTest, BpfReadFailureIsAHealthProblem) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  sched.fail_reads = true;
  col.tick(kSec);
  EXPECT_NE(col.healthProblem().find("read BPF stats"), std::string::npos);
  EXPECT_EQ(col.stats().read_errors, 1u);
  EXPECT_EQ(col.snapshot()->containers.size(), 3u) << "CPU figures still flow";
  sched.fail_reads = false;
  col.tick(2 * kSec);
  EXPECT_TRUE(col.healthProblem().empty());
}

TEST(CollectorTest, HostRulesWithoutKubernetes) {
  FakeFs fs;
  for (const char* m : {kCpu, kCpuacct}) {
    fs.mkdirs(std::string(m) + "/system.slice/sshd.service");
  }
  putV1(fs, "/batch/etl", 0);
  putV1(fs, "/batch/etl/worker", 0);
  putV1(fs, "/system.slice/nginx.service", 0);
  FakeSched sched;
  CollectorOptions o = v1Options();
  o.rules = {{"/system.slice/nginx.service", Tier::kLSX}, {"/batch/*", Tier::kBE}};
  Collector col(fs, sched, o);
  ASSERT_TRUE(col.start());
  EXPECT_EQ(col.size(), 2u);
  col.tick(kSec);
  auto snap = col.snapshot();
  const ContainerView* etl = find(*snap, "/batch/etl");
  ASSERT_NE(etl, nullptr);
  EXPECT_EQ(etl->tier, Tier::kBE);
  EXPECT_EQ(etl->id, "/batch/etl");
  EXPECT_EQ(etl->name, "/batch/etl");
  EXPECT_EQ(etl->pod_uid, "");
  EXPECT_EQ(etl->qos, "");
  EXPECT_EQ(find(*snap, "/system.slice/nginx.service")->tier, Tier::kLSX);

  // A rule-matched cgroup created later arrives by event.
  putV1(fs, "/batch/train", 0);
  bpf::CgroupEvent mk;
  mk.kind = bpf::CgroupEvent::Kind::kMkdir;
  mk.path = "/batch/train";
  mk.cgroup = {bpf::Hierarchy::kV1Cpu, inodeOf(fs, "/batch/train")};
  col.onCgroupEvent(mk);
  EXPECT_EQ(col.size(), 3u);
}

TEST(CollectorTest, LatencyEventsAreCountedPerContainerAndTier) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  bpf::LatencyEvent ev;
  ev.cgroup = {bpf::Hierarchy::kV1Cpu, inodeOf(fs, kLsPath)};
  ev.tier = Tier::kLS;
  ev.delay_ns = 9'000'000;
  col.onLatencyEvent(ev);
  col.onLatencyEvent(ev);
  ev.cgroup.id = 424242;  // unknown cgroup: counted for the tier only
  col.onLatencyEvent(ev);
  col.tick(kSec);
  EXPECT_EQ(col.stats().latency_events, 3u);
  EXPECT_EQ(col.stats().latency_events_by_tier[static_cast<int>(Tier::kLS)], 3u);
  EXPECT_EQ(find(*col.snapshot(), kLsPath)->latency_events, 2u);
}

}  // namespace
}  // namespace colo::agent

namespace colo::agent {
namespace {

// The cached-descriptor path (what colod uses on the real kernel), on plain files: rewrites in
// place are seen through the kept descriptors, and a cgroup gone before its first read is dropped.
TEST(CollectorCachedFdsTest, RereadsThroughKeptDescriptors) {
  char tmpl[] = "/tmp/colo-agent-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  const std::string cpu = root + "/cpu";
  const std::string cpuacct = root + "/cpuacct";
  const std::string a = "/kubepods/besteffort/pod" + kUidBe + "/" + kIdBe;
  const std::string b = "/kubepods/burstable/pod" + kUidLs + "/" + kIdLs;
  auto write = [](const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::trunc) << text;  // same inode: the kept fd sees it
  };
  const std::string memory = root + "/memory";
  for (const std::string& rel : {a, b}) {
    write(cpu + rel + "/cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n");
    write(cpuacct + rel + "/cpuacct.usage", "0\n");
  }
  write(memory + a + "/memory.usage_in_bytes", "2000000\n");
  write(memory + a + "/memory.stat", "total_rss 1\ntotal_inactive_file 500000\n");
  RealFs fs;
  FakeSched sched;
  CollectorOptions o;
  o.version = CgroupVersion::kV1;
  o.cpu_mount = cpu;
  o.cpuacct_mount = cpuacct;
  o.memory_mount = memory;
  o.memory_version = CgroupVersion::kV1;
  o.memory_every_ticks = 1;
  o.cache_fds = true;
  Collector col(fs, sched, o);
  ASSERT_TRUE(col.start());
  ASSERT_EQ(col.size(), 2u);
  std::filesystem::remove_all(cpu + b);  // gone before the first read
  col.tick(kSec);
  EXPECT_EQ(col.size(), 1u);
  EXPECT_EQ(col.stats().containers_vanished, 1u);
  ASSERT_TRUE(col.snapshot()->containers[0].memory);
  EXPECT_EQ(col.snapshot()->containers[0].memory->working_set_bytes, 1500000u);
  write(cpu + a + "/cpu.stat", "nr_periods 10\nnr_throttled 5\nthrottled_time 7\n");
  write(cpuacct + a + "/cpuacct.usage", "250000000\n");
  // A longer memory.stat than before through the same kept descriptor and reused buffer (the
  // usage moved by more than 1 MiB: memory.stat is read again).
  write(memory + a + "/memory.usage_in_bytes", "4000000\n");
  write(memory + a + "/memory.stat",
        "cache 0\nrss 0\ninactive_file 1\ntotal_cache 0\ntotal_rss 1\n"
        "total_inactive_file 1000000\ntotal_active_file 0\n");
  col.tick(kSec + kSec / 2);
  auto snap = col.snapshot();
  ASSERT_EQ(snap->containers.size(), 1u);
  const ContainerView& v = snap->containers[0];
  EXPECT_NEAR(v.usage_cores, 0.5, 1e-9);
  EXPECT_NEAR(v.throttled_pct, 50.0, 1e-9);
  EXPECT_EQ(v.cpu.throttled_ns, 7u);
  ASSERT_TRUE(v.memory);
  EXPECT_EQ(v.memory->working_set_bytes, 3000000u);
  EXPECT_EQ(col.stats().read_errors, 0u);
  std::filesystem::remove_all(root);
}

// A bulk source reporting what the test puts in `figures`; `fail` makes read() fail.
class FakeBulk final : public BulkCpuSource {
 public:
  std::map<uint64_t, CpuStat> figures;
  bool fail = false;
  int reads = 0;
  Status read(const std::function<void(uint64_t, const CpuStat&)>& fn) override {
    ++reads;
    if (fail) {
      return failErrno(EIO, "iterator");
    }
    for (const auto& [id, st] : figures) {
      fn(id, st);
    }
    return ok();
  }
};

TEST(CollectorTest, BulkSourceReplacesFileReadsAndFallsBackPerContainer) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  FakeBulk bulk;
  CollectorOptions o = v1Options();
  o.bulk_cpu = &bulk;
  int file_reads = 0;
  HookFs hook(fs);
  hook.on_read = [&](const std::string& path) {
    if (path.ends_with("/cpu.stat") || path.ends_with("/cpuacct.usage")) {
      ++file_reads;
    }
  };
  Collector col(hook, sched, o);
  ASSERT_TRUE(col.start());
  // The files say 0 for everyone; the bulk source knows LS and BE (and an unwatched pod).
  bulk.figures[inodeOf(fs, kLsPath)] = CpuStat{1 * kSec, 100, 10, 5'000'000};
  bulk.figures[inodeOf(fs, kBePath)] = CpuStat{2 * kSec, 0, 0, 0};
  bulk.figures[inodeOf(fs, "/kubepods/burstable/pod" + kUidLs)] = CpuStat{9 * kSec, 0, 0, 0};
  file_reads = 0;
  col.tick(10 * kSec);
  EXPECT_EQ(bulk.reads, 1);
  EXPECT_EQ(file_reads, 2) << "only the container the bulk source missed (G) reads its 2 files";
  EXPECT_EQ(col.size(), 3u) << "the pod the source also reported is not watched";
  auto snap = col.snapshot();
  EXPECT_EQ(find(*snap, kLsPath)->cpu.usage_ns, uint64_t(kSec));
  EXPECT_EQ(find(*snap, kLsPath)->cpu.nr_throttled, 10u);
  EXPECT_EQ(find(*snap, kBePath)->cpu.usage_ns, uint64_t(2 * kSec));
  EXPECT_TRUE(find(*snap, kGPath)->have_cpu);

  // Rates come out of bulk figures as out of files: 1.5 s of CPU over 2 s, 4 of 20 throttled.
  bulk.figures[inodeOf(fs, kLsPath)] = CpuStat{kSec + 3 * kSec / 2, 120, 14, 9'000'000};
  col.tick(12 * kSec);
  snap = col.snapshot();
  EXPECT_NEAR(find(*snap, kLsPath)->usage_cores, 0.75, 1e-9);
  EXPECT_NEAR(find(*snap, kLsPath)->throttled_pct, 20.0, 1e-9);

  // A failing source: every container is read from its files, the failure is counted.
  bulk.fail = true;
  putV1(fs, kLsPath, 4 * kSec, 140, 14, 9'000'000);
  file_reads = 0;
  col.tick(14 * kSec);
  EXPECT_EQ(file_reads, 6);
  EXPECT_EQ(col.stats().bulk_cpu_errors, 1u);
  EXPECT_EQ(col.stats().read_errors, 0u);
  EXPECT_NEAR(find(*col.snapshot(), kLsPath)->usage_cores, 0.75, 1e-9);  // 2.5 → 4 s over 2 s

  // A container the source stops reporting and whose cgroup is gone is dropped as before.
  bulk.fail = false;
  bulk.figures.erase(inodeOf(fs, kBePath));
  fs.remove(joinPath(kCpu, kBePath));
  fs.remove(joinPath(kCpuacct, kBePath));
  col.tick(16 * kSec);
  EXPECT_EQ(col.size(), 2u);
  EXPECT_EQ(col.stats().containers_vanished, 1u);
}

TEST(CollectorTest, CpuLimitsFromFilesEveryTenTicksAndFromTheBulkSource) {
  FakeFs fs;
  buildV1Tree(fs);
  fs.put(joinPath(kCpu, kLsPath) + "/cpu.cfs_quota_us", "50000\n");
  fs.put(joinPath(kCpu, kLsPath) + "/cpu.cfs_period_us", "100000\n");
  fs.put(joinPath(kCpu, kBePath) + "/cpu.cfs_quota_us", "-1\n");
  fs.put(joinPath(kCpu, kBePath) + "/cpu.cfs_period_us", "100000\n");
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  col.tick(kSec);
  auto snap = col.snapshot();
  EXPECT_EQ(find(*snap, kLsPath)->cpu_limit_cores, std::optional<double>(0.5));
  EXPECT_FALSE(find(*snap, kBePath)->cpu_limit_cores) << "-1: no limit";
  EXPECT_FALSE(find(*snap, kGPath)->cpu_limit_cores) << "no bandwidth files: none";
  // Changed limits are seen within kLimitEveryTicks ticks, not at once.
  fs.put(joinPath(kCpu, kLsPath) + "/cpu.cfs_quota_us", "150000\n");
  col.tick(2 * kSec);
  EXPECT_EQ(find(*col.snapshot(), kLsPath)->cpu_limit_cores, std::optional<double>(0.5));
  for (int i = 0; i < 10; ++i) {
    col.tick((3 + i) * kSec);
  }
  EXPECT_EQ(find(*col.snapshot(), kLsPath)->cpu_limit_cores, std::optional<double>(1.5));

  // The bulk source carries the limit every tick.
  FakeBulk bulk;
  CollectorOptions o = v1Options();
  o.bulk_cpu = &bulk;
  Collector bcol(fs, sched, o);
  ASSERT_TRUE(bcol.start());
  CpuStat limited{kSec, 10, 1, 1000};
  limited.limit_known = true;
  limited.limit_cores = 0.25;
  bulk.figures[inodeOf(fs, kBePath)] = limited;
  bcol.tick(kSec);
  EXPECT_EQ(find(*bcol.snapshot(), kBePath)->cpu_limit_cores, std::optional<double>(0.25));
  limited.limit_cores.reset();  // the limit was removed
  bulk.figures[inodeOf(fs, kBePath)] = limited;
  bcol.tick(2 * kSec);
  EXPECT_FALSE(find(*bcol.snapshot(), kBePath)->cpu_limit_cores);
}

TEST(CollectorTest, V1MemoryWorkingSetFromTheMemoryHierarchy) {
  FakeFs fs;
  buildV1Tree(fs);
  putMemV1(fs, kLsPath, 96 * kMiB, 32 * kMiB);
  putMemV1(fs, kBePath, 8 * kMiB, 16 * kMiB);  // more inactive file than usage: 0, not a wrap
  // kGPath has no directory in the memory hierarchy.
  FakeSched sched;
  Collector col(fs, sched, v1MemOptions(10));
  ASSERT_TRUE(col.start());
  col.tick(kSec);
  auto snap = col.snapshot();
  const ContainerView* ls = find(*snap, kLsPath);
  ASSERT_TRUE(ls->memory) << "read at the container's first tick";
  EXPECT_EQ(ls->memory->usage_bytes, 96 * kMiB);
  EXPECT_EQ(ls->memory->inactive_file_bytes, 32 * kMiB) << "total_inactive_file, not its own";
  EXPECT_EQ(ls->memory->working_set_bytes, 64 * kMiB);
  ASSERT_TRUE(find(*snap, kBePath)->memory);
  EXPECT_EQ(find(*snap, kBePath)->memory->working_set_bytes, 0u);
  EXPECT_FALSE(find(*snap, kGPath)->memory) << "no memory cgroup: unknown";
  EXPECT_EQ(col.size(), 3u) << "a missing memory cgroup does not drop the container";
  EXPECT_EQ(col.stats().memory_missing, 1u);
  EXPECT_EQ(col.stats().read_errors, 0u);
  EXPECT_EQ(col.stats().containers_vanished, 0u);
}

TEST(CollectorTest, V2MemoryFromMemoryCurrent) {
  FakeFs fs;
  fs.mkdirs(kV2);
  const std::string a = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                        std::string("aaaaaaaa_bbbb_cccc_dddd_eeeeeeeeeeee.slice/cri-containerd-") +
                        kIdBe + ".scope";
  putV2(fs, a, 0);
  putMemV2(fs, a, 80 * kMiB, 20 * kMiB);
  FakeSched sched;
  CollectorOptions o;
  o.version = CgroupVersion::kV2;
  o.cpu_mount = kV2;
  o.kubelet_root = "/kubepods.slice";
  o.memory_mount = kV2;
  o.memory_version = CgroupVersion::kV2;
  Collector col(fs, sched, o);
  ASSERT_TRUE(col.start());
  col.tick(kSec);
  const ContainerView* c = find(*col.snapshot(), a);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->memory);
  EXPECT_EQ(c->memory->usage_bytes, 80 * kMiB);
  EXPECT_EQ(c->memory->inactive_file_bytes, 20 * kMiB);
  EXPECT_EQ(c->memory->working_set_bytes, 60 * kMiB);
  EXPECT_EQ(col.stats().read_errors, 0u);
  // The memory controller not enabled for the container (no memory.* files): unknown, counted.
  fs.remove(joinPath(kV2, a) + "/memory.current");
  fs.remove(joinPath(kV2, a) + "/memory.stat");
  for (int i = 2; i <= 12; ++i) {
    col.tick(i * kSec);
  }
  EXPECT_FALSE(find(*col.snapshot(), a)->memory);
  EXPECT_EQ(col.size(), 1u);
  EXPECT_GE(col.stats().memory_missing, 1u);
  EXPECT_EQ(col.stats().read_errors, 0u);
}

TEST(CollectorTest, WithoutAMemoryHierarchyMemoryIsNotRead) {
  FakeFs fs;
  buildV1Tree(fs);
  putMemV1(fs, kLsPath, 96 * kMiB, 32 * kMiB);
  FakeSched sched;
  HookFs hook(fs);
  int memory_reads = 0;
  hook.on_read = [&](const std::string& path) {
    memory_reads += path.find("/memory.") != std::string::npos;
  };
  Collector col(hook, sched, v1Options());  // memory_mount ""
  ASSERT_TRUE(col.start());
  col.tick(kSec);
  EXPECT_EQ(memory_reads, 0);
  EXPECT_FALSE(find(*col.snapshot(), kLsPath)->memory);
  EXPECT_EQ(col.stats().memory_missing, 0u);
}

// Memory is read at a container's first tick, then every `every` ticks, the containers spread
// over those ticks rather than all in one.
TEST(CollectorTest, MemoryIsReadEveryNthTickSpreadOverTheTicks) {
  FakeFs fs;
  buildV1Tree(fs);
  std::vector<std::string> paths = {kLsPath, kBePath, kGPath};
  for (int i = 0; i < 17; ++i) {  // 20 containers in all
    paths.push_back(fmt::format("/kubepods/besteffort/pod{}/{:064x}", kUidBe, i + 1));
    putV1(fs, paths.back(), 0);
  }
  for (const auto& p : paths) {
    putMemV1(fs, p, 10 * kMiB, 0);
  }
  FakeSched sched;
  HookFs hook(fs);
  std::map<std::string, int> reads;  // memory.usage_in_bytes reads per cgroup
  hook.on_read = [&](const std::string& path) {
    const std::string_view file = "/memory.usage_in_bytes";
    if (path.ends_with(file)) {
      ++reads[path.substr(std::strlen(kMem), path.size() - std::strlen(kMem) - file.size())];
    }
  };
  Collector col(hook, sched, v1MemOptions(10));
  ASSERT_TRUE(col.start());
  ASSERT_EQ(col.size(), 20u);
  col.tick(kSec);
  EXPECT_EQ(reads.size(), 20u) << "every container at its first tick";
  for (const auto& p : paths) {
    EXPECT_EQ(reads[p], 1) << p;
  }
  // The next 10 ticks: each container exactly once more, two per tick.
  reads.clear();
  for (int t = 2; t <= 11; ++t) {
    size_t before = 0;
    for (const auto& [p, n] : reads) {
      before += n;
    }
    col.tick(t * kSec);
    size_t after = 0;
    for (const auto& [p, n] : reads) {
      after += n;
    }
    EXPECT_EQ(after - before, 2u) << "tick " << t;
  }
  for (const auto& p : paths) {
    EXPECT_EQ(reads[p], 1) << p;
  }
  // A change is seen within `every` ticks.
  putMemV1(fs, kLsPath, 50 * kMiB, 10 * kMiB);
  col.tick(12 * kSec);
  int t = 12;
  while (find(*col.snapshot(), kLsPath)->memory->working_set_bytes != 40 * kMiB && t < 30) {
    col.tick(++t * kSec);
  }
  EXPECT_LT(t, 12 + 10);
  EXPECT_EQ(find(*col.snapshot(), kLsPath)->memory->working_set_bytes, 40 * kMiB);

  // A container added later is read at its first tick too.
  const std::string late = "/kubepods/besteffort/pod" + kUidBe + "/" + std::string(64, 'e');
  putV1(fs, late, 0);
  putMemV1(fs, late, 30 * kMiB, 0);
  col.onCgroupEvent(bpf::CgroupEvent{bpf::CgroupEvent::Kind::kMkdir,
                                     bpf::CgroupRef{bpf::Hierarchy::kV1Cpu, inodeOf(fs, late)},
                                     late});
  col.tick(++t * kSec);
  ASSERT_NE(find(*col.snapshot(), late), nullptr);
  ASSERT_TRUE(find(*col.snapshot(), late)->memory);
  EXPECT_EQ(find(*col.snapshot(), late)->memory->working_set_bytes, 30 * kMiB);
}

// memory.stat (the costly file) is read again only when the usage moved by 1 MiB or more since
// it was last read, or at every tenth memory read; in between the working set is the new usage
// less the inactive file pages last read.
TEST(CollectorTest, MemoryStatIsReadAgainWhenTheUsageMovesOrEveryTenthRead) {
  FakeFs fs;
  buildV1Tree(fs);
  putMemV1(fs, kLsPath, 64 * kMiB, 16 * kMiB);
  FakeSched sched;
  HookFs hook(fs);
  int stat_reads = 0;
  hook.on_read = [&](const std::string& path) {
    stat_reads += path == joinPath(kMem, kLsPath) + "/memory.stat";
  };
  Collector col(hook, sched, v1MemOptions(1));
  ASSERT_TRUE(col.start());
  col.tick(kSec);
  EXPECT_EQ(stat_reads, 1);
  auto ws = [&] { return find(*col.snapshot(), kLsPath)->memory->working_set_bytes; };
  EXPECT_EQ(ws(), 48 * kMiB);
  // The usage moves by less than 1 MiB: no memory.stat read, the old inactive count.
  fs.put(joinPath(kMem, kLsPath) + "/memory.usage_in_bytes", fmt::format("{}\n", 64 * kMiB + 4096));
  col.tick(2 * kSec);
  EXPECT_EQ(stat_reads, 1);
  EXPECT_EQ(ws(), 48 * kMiB + 4096);
  // It moves by 1 MiB or more (here: page cache, all inactive): memory.stat is read again.
  putMemV1(fs, kLsPath, 96 * kMiB, 48 * kMiB);
  col.tick(3 * kSec);
  EXPECT_EQ(stat_reads, 2);
  EXPECT_EQ(ws(), 48 * kMiB) << "new page cache is not working set";
  // The usage holds still but the pages age (inactive grows): seen within ten reads.
  putMemV1(fs, kLsPath, 96 * kMiB, 64 * kMiB);
  int t = 3;
  while (ws() != 32 * kMiB && t < 20) {
    col.tick(++t * kSec);
  }
  EXPECT_EQ(ws(), 32 * kMiB);
  EXPECT_EQ(t, 3 + 10) << "the tenth read after the last memory.stat read";
  EXPECT_EQ(stat_reads, 3);
  EXPECT_EQ(col.stats().read_errors, 0u);
}

TEST(CollectorTest, VanishedMemoryCgroupsAreNormal) {
  FakeFs fs;
  buildV1Tree(fs);
  for (const auto& p : {kLsPath, kBePath, kGPath}) {
    putMemV1(fs, p, 10 * kMiB, 0);
  }
  FakeSched sched;
  Collector col(fs, sched, v1MemOptions(1));
  ASSERT_TRUE(col.start());
  col.tick(kSec);
  ASSERT_TRUE(find(*col.snapshot(), kLsPath)->memory);

  // The memory cgroup goes first (the runtime removes one controller's directory after
  // another): the memory is unknown, the container stays.
  fs.remove(joinPath(kMem, kLsPath));
  col.tick(2 * kSec);
  EXPECT_FALSE(find(*col.snapshot(), kLsPath)->memory);
  EXPECT_EQ(col.size(), 3u);
  EXPECT_EQ(col.stats().memory_missing, 1u);
  // ...and appears (a runtime making it after the cpu one): read at the next due tick.
  putMemV1(fs, kLsPath, 20 * kMiB, 0);
  col.tick(3 * kSec);
  ASSERT_TRUE(find(*col.snapshot(), kLsPath)->memory);
  EXPECT_EQ(find(*col.snapshot(), kLsPath)->memory->working_set_bytes, 20 * kMiB);

  // The whole container goes: dropped as vanished (its CPU read says so), memory not tried.
  fs.remove(joinPath(kCpu, kBePath));
  fs.remove(joinPath(kCpuacct, kBePath));
  fs.remove(joinPath(kMem, kBePath));
  col.tick(4 * kSec);
  EXPECT_EQ(col.size(), 2u);
  EXPECT_EQ(col.stats().containers_vanished, 1u);
  EXPECT_EQ(col.stats().memory_missing, 1u);

  // Other failures are read errors; the container stays, its memory unknown.
  putMemV1(fs, kGPath, 12 * kMiB, 0);  // moved: memory.stat is read again...
  fs.put(joinPath(kMem, kGPath) + "/memory.stat", "total_rss 1\n");  // ...and is bad
  col.tick(5 * kSec);
  EXPECT_FALSE(find(*col.snapshot(), kGPath)->memory);
  EXPECT_EQ(col.stats().read_errors, 1u);
  fs.failReads(joinPath(kMem, kLsPath) + "/memory.usage_in_bytes", EACCES);
  col.tick(6 * kSec);
  EXPECT_EQ(col.stats().read_errors, 3u);
  EXPECT_EQ(col.size(), 2u);
  EXPECT_EQ(col.stats().containers_vanished, 1u);
}

TEST(CollectorTest, SnapshotReuseOverwritesInPlaceAndKeepsPathOrder) {
  FakeFs fs;
  buildV1Tree(fs);
  FakeSched sched;
  Collector col(fs, sched, v1Options());
  ASSERT_TRUE(col.start());
  col.tick(kSec);
  auto first = col.snapshot();
  ASSERT_EQ(first->containers.size(), 3u);
  const ContainerView* slot = first->containers.data();
  putV1(fs, kLsPath, 5 * kSec);
  col.tick(2 * kSec);
  auto second = col.snapshot(first);
  EXPECT_EQ(second.get(), first.get()) << "the given snapshot is rebuilt, not a new one";
  EXPECT_EQ(second->containers.data(), slot) << "same storage: no reallocation";
  EXPECT_EQ(find(*second, kLsPath)->cpu.usage_ns, uint64_t(5 * kSec));
  std::vector<std::string> paths;
  for (const auto& c : second->containers) {
    paths.push_back(c.cgroup);
  }
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end()));
  // A removed container leaves the reused snapshot too.
  fs.remove(joinPath(kCpu, kGPath));
  fs.remove(joinPath(kCpuacct, kGPath));
  col.tick(3 * kSec);
  auto third = col.snapshot(second);
  EXPECT_EQ(third->containers.size(), 2u);
  EXPECT_EQ(find(*third, kGPath), nullptr);
}

}  // namespace
}  // namespace colo::agent
