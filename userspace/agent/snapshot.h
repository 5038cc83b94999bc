// Snapshot: what the agent publishes after each tick. Immutable once built; the tick thread
// builds a new one and swaps it into a SnapshotStore, from which the HTTP threads read.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/cgroup_stats.h"
#include "agent/histogram.h"
#include "bpf/sched_probe.h"

namespace colo::agent {

// What the ticks measure of a container: every member of ContainerView that changes from tick to
// tick lives here. Collector::snapshot copies these every tick and the identity (ContainerView's
// own members, fixed for a container's life) only when the slot held another container.
struct ContainerFigures {
  // CPU (cgroup files). usage_cores/throttled_pct cover the last tick; the rest is cumulative.
  bool have_cpu = false;  // false until the first successful read
  double usage_cores = 0;
  double throttled_pct = 0;
  CpuStat cpu;
  std::optional<double> cpu_limit_cores;  // its own CFS limit; nullopt: none (or not read yet)
  std::optional<Pressure> psi;            // nullopt where the kernel offers no cpu.pressure here
  // Memory (cgroup files, read every CollectorOptions::memory_every_ticks ticks, not each tick).
  // nullopt: not read yet, no memory controller, or no memory cgroup for this container.
  std::optional<MemoryUsage> memory;

  // Run-queue figures (BPF). Cumulative unless named delta/window.
  uint64_t runq_count = 0;
  uint64_t runq_delta_count = 0;
  uint64_t runq_sum_ns = 0;
  uint64_t runq_max_ns = 0;
  std::optional<uint64_t> mean_ns, p50_ns, p90_ns, p99_ns;  // over the window; nullopt: no samples
  Hist hist_window{};
  uint64_t preemptions = 0;
  uint64_t involuntary_switches = 0;
  uint64_t waited_behind_lower = 0;
  uint64_t waited_behind_lower_delta = 0;
  uint64_t over_threshold = 0;
  uint64_t latency_events = 0;  // ring-buffer latency events received for this cgroup
};

struct ContainerView : ContainerFigures {
  std::string id;       // container id, or the cgroup path outside Kubernetes
  std::string name;     // "pod<uid>/<id>", or the cgroup path
  std::string pod_uid;  // "" outside Kubernetes
  std::string qos;      // guaranteed | burstable | besteffort | ""
  std::string runtime;  // containerd | crio | docker | ""
  bpf::Tier tier = bpf::Tier::kNone;
  std::string cgroup;  // relative to the cpu hierarchy root
  uint64_t cgroup_id = 0;
  // The collector's number for this container (from 1, never reused): the members above are
  // the same in every view with the same serial.
  uint64_t serial = 0;
};

// Agent self figures, cumulative since start unless noted.
struct AgentStats {
  uint64_t ticks = 0;
  double last_tick_seconds = 0;  // duration of the last tick
  double max_tick_seconds = 0;
  uint64_t read_errors = 0;          // cgroup or BPF reads that failed (other than ENOENT)
  uint64_t bulk_cpu_errors = 0;      // failed bulk CPU reads (BPF cgroup iterator); files read
  uint64_t containers_vanished = 0;  // containers dropped because their cgroup went away
  // Memory reads that found no memory cgroup file for a watched container (not created yet,
  // gone, or the memory controller not enabled for it); normal, not a read error.
  uint64_t memory_missing = 0;
  uint64_t containers_added = 0;
  uint64_t containers_removed = 0;  // removed on an rmdir event, a vanish or a resync
  uint64_t cgroup_mkdir_events = 0;
  uint64_t cgroup_rmdir_events = 0;
  uint64_t latency_events = 0;
  std::array<uint64_t, bpf::kTierCount> latency_events_by_tier{};
  uint64_t resyncs = 0;
  uint64_t resync_differences = 0;  // containers a resync found that events had missed
  uint64_t bpf_write_errors = 0;    // setTier/forget/setThreshold failures
  uint64_t events_mismatched = 0;   // mkdir events whose path now holds another cgroup (ignored)
  std::optional<bpf::ProbeCounters> probe;  // BPF-side error counters, when available
};

struct Snapshot {
  std::string node;
  uint32_t tick_ms = 0;
  uint32_t window_ticks = 0;
  int cgroup_version = 0;
  std::string attach_mode;
  int64_t taken_ns = 0;        // CLOCK_MONOTONIC time of the tick that built it
  std::string health_problem;  // "" when healthy
  std::vector<ContainerView> containers;
  AgentStats stats;
};

// The published snapshot. publish() from the tick thread, get() from any thread.
class SnapshotStore {
 public:
  void publish(std::shared_ptr<const Snapshot> snapshot) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(snapshot);
  }
  std::shared_ptr<const Snapshot> get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
};

}  // namespace colo::agent
