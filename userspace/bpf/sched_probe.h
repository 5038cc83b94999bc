// SchedProbe: loads the scheduler/cgroup BPF programs (bpf/sched.bpf.c), attaches them
// (tp_btf, falling back to raw_tp), pins their maps under a directory (default /sys/fs/bpf/colo)
// and gives the agent typed access. PinnedSchedMaps reads the pinned maps without loading
// anything, so coloctl works while the agent is stopped.
//
// The C++ types here are the agent's view; the ABI structs in bpf/abi/sched.h stay behind this
// interface. Thread-compatibility: one thread uses a SchedProbe at a time.
#pragma once

#include <strings.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace colo::bpf {

// QoS tier. Numeric order is priority order: a task "waits behind a lower tier" when the task
// on its CPU has a smaller tier value. kNone: cgroup the agent has not classified.
enum class Tier : uint8_t { kNone = 0, kBE = 1, kLS = 2, kLSR = 3, kLSX = 4 };
inline constexpr int kTierCount = 5;

// Which hierarchy a cgroup id belongs to: the v1 cpu controller's or the v2 default one.
enum class Hierarchy : uint8_t { kV1Cpu = 1, kV2 = 2 };

// A cgroup as BPF sees it. id equals the inode number of the cgroup directory.
struct CgroupRef {
  Hierarchy hierarchy = Hierarchy::kV2;
  uint64_t id = 0;
  bool operator==(const CgroupRef&) const = default;
};

// log2 buckets: bucket i counts delays d with 2^i <= d < 2^(i+1) ns (bucket 0 also takes d = 0).
inline constexpr int kHistBuckets = 36;

// Cumulative run-queue figures of one cgroup since its entry was created.
struct CgroupSchedStats {
  CgroupRef cgroup;
  uint64_t count = 0;   // wakeup-to-run delays measured
  uint64_t sum_ns = 0;  // sum of those delays
  uint64_t max_ns = 0;  // largest delay
  std::array<uint64_t, kHistBuckets> hist{};
  uint64_t preemptions = 0;           // its tasks switched out while runnable, for another cgroup
  uint64_t involuntary_switches = 0;  // its tasks switched out while runnable (kernel's nivcsw)
  uint64_t waited_behind_lower = 0;   // delays during which a lower-tier task held the CPU
  uint64_t over_threshold = 0;        // delays over the tier's threshold
};

// Ring-buffer event: a task of a classified tier waited longer than the tier's threshold.
struct LatencyEvent {
  CgroupRef cgroup;
  Tier tier = Tier::kNone;
  uint32_t pid = 0;
  uint32_t cpu = 0;
  uint64_t delay_ns = 0;
  uint64_t timestamp_ns = 0;  // CLOCK_MONOTONIC (bpf_ktime_get_ns)
};

// Ring-buffer event: a cgroup was created or removed in the watched hierarchy.
struct CgroupEvent {
  enum class Kind : uint8_t { kMkdir = 1, kRmdir = 2 };
  Kind kind = Kind::kMkdir;
  CgroupRef cgroup;
  std::string path;  // path relative to the hierarchy root as the kernel reports it ("/a/b")
  uint64_t timestamp_ns = 0;
};

// A cgroup created after the probe was loaded, from the BPF `cgroups` map (filled at mkdir,
// deleted at rmdir). Cgroups that existed before load are not there: resolve those by inode.
struct CgroupName {
  CgroupRef cgroup;
  std::string path;         // relative to the hierarchy root ("/a/b"), possibly truncated
  bool truncated = false;   // the kernel's path was longer than the BPF-side buffer (255 bytes)
  uint64_t created_ns = 0;  // CLOCK_MONOTONIC ns of the mkdir
};

// Error and drop counters kept inside BPF (each error path bumps one), summed over CPUs.
struct ProbeCounters {
  uint64_t events_dropped_ratelimit = 0;  // latency events suppressed by the BPF rate limit
  uint64_t events_dropped_full = 0;       // ring buffer reservations that failed
  uint64_t stats_map_full = 0;            // new cgroups that found the stats map full
  uint64_t storage_errors = 0;            // task storage get/create failures
  uint64_t cgroup_events_dropped = 0;     // mkdir/rmdir records lost (ring buffer full)
  uint64_t cgroups_map_full = 0;          // mkdirs that found the `cgroups` map full
  uint64_t read_errors = 0;               // kernel reads (cgroup id, path) that failed
  uint64_t latency_events = 0;            // latency events pushed on the ring buffer
  uint64_t cgroup_events = 0;             // mkdir/rmdir events pushed on the ring buffer
  uint64_t no_enqueue_time = 0;  // sched_info mode: switch-ins without a sane enqueue stamp
};

// Run-time statistics of one loaded BPF program (kernel.bpf_stats_enabled=1 fills them).
struct ProgramStats {
  std::string name;
  uint64_t run_cnt = 0;      // times it ran
  uint64_t run_time_ns = 0;  // total time spent in it (ns)
};

struct ProbeOptions {
  std::string pin_dir = "/sys/fs/bpf/colo";
  bool pin = true;  // pin maps (a restarted agent reuses them if the ABI matches)
  uint32_t max_cgroups = 8192;
  bool force_raw_tp = false;  // skip tp_btf (tests exercise the fallback)
  // Stamp wakeups in BPF (sched_wakeup programs, bpf_ktime_get_ns) even where the kernel's own
  // enqueue stamp (sched_info.last_queued, read at sched_switch) works. See docs/bpf.md.
  bool force_wakeup_delays = false;
  Hierarchy hierarchy = Hierarchy::kV1Cpu;  // which hierarchy ids are attributed to
  // BPF-side rate limit for latency events: a per-CPU token bucket of max(1, rate / CPUs)
  // events/s holding one second of tokens. 0 suppresses every latency event (still counted).
  uint32_t events_per_sec = 1000;
  // false: tasks of cgroups without a tier (setTier) are not measured at all: no clock read and
  // no stats entry for them, the cheapest mode when the agent classifies every container it
  // watches. true: every cgroup of the hierarchy gets stats.
  bool track_unclassified = true;
};

// What the agent needs from the kernel side; tests substitute a fake.
class SchedSource {
 public:
  virtual ~SchedSource() = default;
  virtual Result<std::vector<CgroupSchedStats>> readStats() = 0;
  // readStats into *out (replaced), reusing its storage: the agent's per-tick call.
  virtual Status readStatsInto(std::vector<CgroupSchedStats>* out) {
    auto stats = readStats();
    if (!stats) {
      return fail(stats.error());
    }
    *out = std::move(*stats);
    return ok();
  }
  virtual Status setTier(CgroupRef cgroup, Tier tier) = 0;
  // Drops the cgroup's stats and tier entries (container gone).
  virtual Status forget(CgroupRef cgroup) = 0;
  virtual Status setThreshold(Tier tier, uint64_t threshold_ns) = 0;
};

class SchedProbe final : public SchedSource {
 public:
  // Loads and attaches. Errors name the cause and the fix (no BTF, EPERM: not root/CAP_BPF...).
  static Result<std::unique_ptr<SchedProbe>> load(const ProbeOptions& options);
  ~SchedProbe() override;  // detaches programs; pinned maps stay for coloctl

  // Program set and delay source: "tp_btf+sched_info", "tp_btf+wakeup", "raw_tp+sched_info" or
  // "raw_tp+wakeup".
  const char* attachMode() const;
  // True when load() found compatible pinned maps and kept them (stats survived the restart).
  bool reusedPinnedMaps() const;

  Result<std::vector<CgroupSchedStats>> readStats() override;
  Status readStatsInto(std::vector<CgroupSchedStats>* out) override;
  Status setTier(CgroupRef cgroup, Tier tier) override;
  Status forget(CgroupRef cgroup) override;
  Status setThreshold(Tier tier, uint64_t threshold_ns) override;
  // Changes the BPF-side latency event rate limit at run time (see ProbeOptions).
  Status setEventsPerSec(uint32_t events_per_sec);
  Result<ProbeCounters> counters();
  Result<std::vector<CgroupName>> readCgroupNames();
  // run_cnt/run_time_ns of each attached program (zero unless kernel.bpf_stats_enabled=1).
  Result<std::vector<ProgramStats>> programStats() const;

  // Ring buffer fd for epoll; consumeEvents() drains it without blocking.
  int eventFd() const;
  Status consumeEvents(const std::function<void(const LatencyEvent&)>& on_latency,
                       const std::function<void(const CgroupEvent&)>& on_cgroup);

 private:
  struct Impl;
  explicit SchedProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Read-only view of pinned maps (no programs loaded). Fails with ENOENT when nothing is pinned
// and with EPROTO when the pinned ABI version differs from this binary's.
class PinnedSchedMaps {
 public:
  static Result<PinnedSchedMaps> open(const std::string& pin_dir = "/sys/fs/bpf/colo");
  Result<std::vector<CgroupSchedStats>> readStats() const;
  // cgroup -> tier entries the agent wrote.
  Result<std::vector<std::pair<CgroupRef, Tier>>> readTiers() const;
  Result<std::array<uint64_t, kTierCount>> readThresholds() const;
  Result<ProbeCounters> counters() const;
  // Cgroups created since the probe was first loaded (id -> path), for naming new containers.
  Result<std::vector<CgroupName>> readCgroupNames() const;

  PinnedSchedMaps(PinnedSchedMaps&&) noexcept;
  PinnedSchedMaps& operator=(PinnedSchedMaps&&) noexcept;
  ~PinnedSchedMaps();

 private:
  struct Impl;
  explicit PinnedSchedMaps(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "BE", "LS", "LSR", "LSX", "none". Header-only: colod's and coloctl's unit tests use it without
// linking libbpf.
inline const char* tierName(Tier tier) {
  switch (tier) {
    case Tier::kBE:
      return "BE";
    case Tier::kLS:
      return "LS";
    case Tier::kLSR:
      return "LSR";
    case Tier::kLSX:
      return "LSX";
    case Tier::kNone:
      break;
  }
  return "none";
}

// Parses "BE", "LS", "LSR", "LSX" (case-insensitive); false otherwise.
inline bool parseTier(std::string_view text, Tier* out) {
  for (Tier t : {Tier::kBE, Tier::kLS, Tier::kLSR, Tier::kLSX}) {
    std::string_view name = tierName(t);
    if (name.size() == text.size() && strncasecmp(text.data(), name.data(), name.size()) == 0) {
      *out = t;
      return true;
    }
  }
  return false;
}

}  // namespace colo::bpf
