// Node-wide inputs of the policy engine: /proc/stat (node CPU), /proc/meminfo, memory PSI,
// online CPUs, and the translation of colod's per-tick Snapshot into a policy::NodeSnapshot.
// Everything reads through FileSystem, so unit tests run on FakeFs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/policy/snapshot.h"
#include "agent/snapshot.h"
#include "common/fs.h"
#include "common/result.h"

namespace colo::agent {

// The aggregate "cpu" line of /proc/stat, in USER_HZ ticks.
struct CpuTimes {
  uint64_t busy = 0;   // user+nice+system+irq+softirq+steal
  uint64_t total = 0;  // busy + idle + iowait
};
Result<CpuTimes> parseProcStat(std::string_view text);

struct MemInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
};
// MemTotal and MemAvailable (kB in the file); EINVAL when either is missing.
Result<MemInfo> parseMemInfo(std::string_view text);

// "0-3,8,10-11" -> {0,1,2,3,8,10,11}; EINVAL on junk.
Result<std::vector<int>> parseCpuListText(std::string_view text);

// Freshness of the engine's inputs: time since the last good read and failures in a row.
class SignalTracker {
 public:
  void ok(const std::string& name, int64_t now_ns);
  void failed(const std::string& name, int64_t now_ns);
  std::vector<policy::SignalHealth> health(int64_t now_ns) const;

 private:
  struct Entry {
    int64_t last_ok_ns = 0;
    uint32_t failures = 0;
  };
  std::map<std::string, Entry> entries_;
};

// Reads the node-wide figures once per tick. Not thread-safe (the agent's loop owns it).
class NodeSampler {
 public:
  NodeSampler(const FileSystem& fs, std::string proc_root = "/proc", std::string sys_root = "/sys");

  struct Reading {
    std::optional<double> cpu_usage_cores;  // since the previous sample; nullopt the first time
    std::optional<MemInfo> mem;
    std::optional<double> mem_psi_some_avg10, mem_psi_full_avg10;
    std::vector<int> online_cpus;
    int cpu_count = 0;
  };
  // One sample at `now_ns` (CLOCK_MONOTONIC); records each source's health in `signals`.
  Reading sample(int64_t now_ns, SignalTracker* signals);

 private:
  const FileSystem& fs_;
  std::string stat_path_, meminfo_path_, psi_path_, online_path_, possible_path_;
  std::optional<CpuTimes> last_cpu_;
  int64_t last_cpu_ns_ = 0;
  long user_hz_ = 100;
  bool psi_absent_ = false;
  // Kept open across ticks and read into one reused buffer (FileSystem::readFileKeptInto).
  UniqueFd stat_fd_, meminfo_fd_, psi_fd_, online_fd_, possible_fd_;
  std::string buf_;
};

// policy::NodeSnapshot from colod's snapshot and the node reading. Containers without a tier are
// left out; a Kubernetes container's pod cgroup is its parent directory. System usage is node
// usage minus the containers' (at least 0). A container's memory_usage_bytes is its working set
// (ContainerView::memory), 0 while unknown.
policy::NodeSnapshot buildNodeSnapshot(const Snapshot& agent, const NodeSampler::Reading& node,
                                       std::vector<policy::SignalHealth> signals, int64_t now_ns);
// The same into *out, reusing its containers' storage (the agent's per-tick call). Sets the
// fields above; the caller's own (latency events, cgroupfs health, be_idle_class) are left.
void fillNodeSnapshot(const Snapshot& agent, const NodeSampler::Reading& node,
                      std::vector<policy::SignalHealth> signals, int64_t now_ns,
                      policy::NodeSnapshot* out);

}  // namespace colo::agent
