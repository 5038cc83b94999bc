// Collector: the set of watched containers and their figures.
//
// Discovery: one full scan at start(), then cgroup mkdir/rmdir events from BPF, and a slow
// resync() as a safety net (differences it finds are counted). Each tick() reads, per container,
// cpu.stat (+ cpuacct.usage on v1) and cpu.pressure through the FileSystem, and the BPF run-queue
// figures in one batched readStats(). Memory (usage and memory.stat, for the working set) moves
// slowly: each container's usage is read every memory_every_ticks ticks, the containers spread
// over those ticks, and its memory.stat only when the usage moved or every tenth time. It never
// walks the cgroup tree in a tick.
//
// A container whose cgroup vanishes (ENOENT mid-read) is dropped quietly and counted; a missing
// memory cgroup only leaves its memory unknown (counted too).
// Thread-compatibility: one thread (the agent's event loop) owns a Collector.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/cgroup_stats.h"
#include "agent/histogram.h"
#include "agent/layout.h"
#include "agent/snapshot.h"
#include "agent/tiers.h"
#include "bpf/sched_probe.h"
#include "common/cgroup_mounts.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace colo::agent {

// CPU figures of every cgroup of the watched subtree in one call (the BPF cgroup iterator,
// bpf/cgstat.bpf.c), instead of one cpu.stat (+ cpuacct.usage) read per container per tick.
class BulkCpuSource {
 public:
  virtual ~BulkCpuSource() = default;
  // Calls fn(cgroup id, figures) once per cgroup it knows; an error means "read the files".
  virtual Status read(const std::function<void(uint64_t id, const CpuStat&)>& fn) = 0;
};

struct CollectorOptions {
  CgroupVersion version = CgroupVersion::kV2;
  std::string cpu_mount;      // mount point of the hierarchy with the cpu controller
  std::string cpuacct_mount;  // v1: the cpuacct mount (may equal cpu_mount); unused on v2
  std::string kubelet_root = "/kubepods";  // relative to cpu_mount
  // Hierarchy with the memory controller ("" : none, memory is not read). A container's memory
  // cgroup is its cgroup path (relative to cpu_mount) under this mount, so the kubelet root
  // applies to both. memory_version says its files: v2 memory.current, v1 memory.usage_in_bytes.
  std::string memory_mount;
  CgroupVersion memory_version = CgroupVersion::kV2;
  // Each container's memory is read every this many ticks (the first time at its first tick).
  uint32_t memory_every_ticks = 10;
  std::vector<TierRule> rules;
  uint32_t window_ticks = 60;
  // Thresholds written with setThreshold at start(), ns, indexed by tier (0 = none).
  std::array<uint64_t, bpf::kTierCount> thresholds_ns{};
  uint32_t max_scan_depth = 16;  // for rule scans of the whole hierarchy
  // Keep each container's cgroup files open and re-read them with pread(2) at offset 0, instead
  // of open/read/close through the FileSystem each tick: path walks were two thirds of a tick's
  // cost. Only for the real kernel (cgroupfs seq files restart at offset 0, and a removed
  // cgroup's open files fail with ENODEV); unit tests on FakeFs leave it off.
  bool cache_fds = false;
  // When set (not owned), tick() takes CPU figures from it; containers it does not report, or
  // every container when it fails, are read from their files as above.
  BulkCpuSource* bulk_cpu = nullptr;
};

class Collector {
 public:
  Collector(const FileSystem& fs, bpf::SchedSource& source, CollectorOptions options);
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Writes the thresholds and scans the tree once. Errors only for broken setup (the cpu mount is
  // not readable); per-container problems are counted.
  Status start();
  // Applies a cgroup event from the BPF ring buffer.
  void onCgroupEvent(const bpf::CgroupEvent& event);
  void onLatencyEvent(const bpf::LatencyEvent& event);
  // Rescans the tree and reconciles the watched set with it.
  void resync();
  // Reads every container's figures; `now_ns` is CLOCK_MONOTONIC.
  void tick(int64_t now_ns);
  // Builds the snapshot from the last tick's figures (without node/tick metadata), containers
  // sorted by cgroup path. `reuse`: a snapshot no one else holds any more, overwritten in place
  // (saves an allocation per string per container per tick); null builds a new one.
  std::shared_ptr<Snapshot> snapshot(std::shared_ptr<Snapshot> reuse = nullptr);

  size_t size() const { return containers_.size(); }
  bool watches(uint64_t cgroup_id) const { return containers_.count(cgroup_id) != 0; }
  const AgentStats& stats() const { return stats_; }
  AgentStats& mutableStats() { return stats_; }
  const std::string& healthProblem() const { return health_problem_; }

  // Hierarchy of the cgroup ids this collector deals in.
  bpf::Hierarchy hierarchy() const {
    return options_.version == CgroupVersion::kV1 ? bpf::Hierarchy::kV1Cpu : bpf::Hierarchy::kV2;
  }

 private:
  struct Container {
    ContainerView view;
    bool psi_absent = false;  // cpu.pressure missing once: not asked again
    bool have_cpu = false;
    int64_t cpu_read_ns = 0;
    bool have_sched = false;
    bool baseline_first = false;  // first BPF reading is a baseline (found by the start scan)
    bpf::CgroupSchedStats last_sched;
    HistWindow window;
    uint64_t window_version = ~uint64_t{0};  // window.version() the view's figures come from
    bool seen_this_tick = false;
    bool bulk_this_tick = false;         // CPU figures came from the bulk source this tick
    uint32_t limit_reads = 0;            // file path: the limit is re-read every kLimitEveryTicks
    UniqueFd quota_fd, period_fd;        // file path: cpu.cfs_quota_us + cfs_period_us, or cpu.max
    UniqueFd stat_fd, usage_fd, psi_fd;  // cache_fds: cpu.stat, cpuacct.usage, cpu.pressure
    UniqueFd mem_usage_fd, mem_stat_fd;  // cache_fds: memory.current/usage_in_bytes, memory.stat
    uint64_t memory_due_tick = 0;        // the tick (stats_.ticks) at which memory is read next
    uint64_t stat_usage_bytes = 0;       // the usage when memory.stat was last read
    uint32_t reads_since_stat = 0;       // memory reads since memory.stat was last read
    explicit Container(uint32_t window_ticks) : window(window_ticks) {}
  };

  // What a scan found: path -> tier (and classification).
  struct Found {
    bpf::Tier tier;
    std::optional<KubeCgroup> kube;
  };
  std::map<std::string, Found> scan();
  void scanDir(const std::string& rel, uint32_t depth, uint32_t max_depth,
               std::map<std::string, Found>* out);
  std::optional<Found> classify(const std::string& rel) const;
  // Adds the container at `rel` (cgroup path); false when its cgroup is already gone, or when
  // `expected_id` is set and the directory at `rel` is another cgroup (a truncated or stale
  // event path).
  bool add(const std::string& rel, const Found& found, uint64_t expected_id = 0);
  void remove(uint64_t id);
  // Reads the cgroup files of `c`; false when the cgroup vanished.
  bool readCpu(Container& c, int64_t now_ns);
  // Reads `c`'s CPU limit files into *stat (cpu.max, or cfs_quota_us + cfs_period_us); limits
  // change rarely, so the file path does it every kLimitEveryTicks ticks per container.
  void readLimit(Container& c, CpuStat* stat);
  static constexpr uint32_t kLimitEveryTicks = 10;
  // Takes in `stat` (from a file or the bulk source) as `c`'s figures at `now_ns`.
  void applyCpu(Container& c, const CpuStat& stat, int64_t now_ns);
  // Reads cpu.pressure unless known to be absent.
  void readPsi(Container& c);
  void applySched(Container& c, const bpf::CgroupSchedStats& s);
  // Reads `c`'s memory files when it is due (memory_due_tick) and schedules the next read.
  void maybeReadMemory(Container& c);
  void readMemory(Container& c);
  // memory.stat costs about ten usage reads (v1 on 6.18: ~11 µs against ~1.2 µs a pread), and
  // most containers' memory holds still: it is re-read only when the usage moved by
  // kStatRereadBytes since it was last read, or at every kStatEveryReads-th memory read (the
  // inactive file pages also move under a constant usage: LRU aging). In between, the working
  // set is the new usage less the inactive file pages last read.
  static constexpr uint64_t kStatRereadBytes = 1 << 20;
  static constexpr uint32_t kStatEveryReads = 10;
  // Reads `path` through `cache` (cache_fds) or the FileSystem.
  Result<std::string> readCgroupFile(const std::string& path, UniqueFd* cache) const;
  // The same into *out, reusing its storage, in one pread where it can (FileSystem::
  // readCgroupFileKeptInto).
  Status readCgroupFileInto(const std::string& path, UniqueFd* cache, std::string* out) const;

  const FileSystem& fs_;
  bpf::SchedSource& source_;
  CollectorOptions options_;
  std::unordered_map<uint64_t, std::unique_ptr<Container>> containers_;  // by cgroup id
  std::unordered_map<std::string, uint64_t> by_path_;
  std::vector<const Container*> order_;  // containers_ sorted by cgroup path, for snapshot()
  std::vector<bpf::CgroupSchedStats> sched_buf_;  // BPF figures, reused tick to tick
  std::string mem_usage_buf_, mem_stat_buf_;      // memory files, reused container to container
  std::string mem_path_;                          // memory file path, reused (opened only once)
  bool order_dirty_ = true;
  AgentStats stats_;
  uint64_t next_serial_ = 0;  // ContainerView::serial of the last container added
  std::string health_problem_;
  log::RateLimit read_log_{std::chrono::seconds(10)};
  log::RateLimit bpf_log_{std::chrono::seconds(10)};
};

}  // namespace colo::agent
