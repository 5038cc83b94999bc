// Parsers for the cgroup files the collector reads (CPU each tick, memory on a slower cadence).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/cgroup_mounts.h"
#include "common/result.h"

namespace colo::agent {

// Cumulative CPU figures of one cgroup.
struct CpuStat {
  uint64_t usage_ns = 0;
  uint64_t nr_periods = 0;
  uint64_t nr_throttled = 0;
  uint64_t throttled_ns = 0;
  // The cgroup's own CPU limit (cores), when this reading carries it (limit_known); nullopt
  // inside: no limit.
  bool limit_known = false;
  std::optional<double> limit_cores;
};

// CPU limit in cores from v2 cpu.max: "max 100000" -> nullopt, "150000 100000" -> 1.5.
Result<std::optional<double>> parseCpuMax(std::string_view text);
// The same from v1 cpu.cfs_quota_us ("-1": none) and cpu.cfs_period_us.
Result<std::optional<double>> parseCfsLimit(std::string_view quota_us, std::string_view period_us);

// v2 cpu.stat: usage_usec, nr_periods, nr_throttled, throttled_usec (converted to ns).
// EINVAL when usage_usec is missing.
Result<CpuStat> parseCpuStatV2(std::string_view text);
// v1 cpu.stat (nr_periods, nr_throttled, throttled_time in ns) plus cpuacct.usage (ns).
Result<CpuStat> parseCpuStatV1(std::string_view cpu_stat, std::string_view cpuacct_usage);

// Memory of one cgroup, as kubelet (cAdvisor) reads it: the working set is the usage less the
// inactive file pages (page cache the kernel reclaims first), at least 0.
struct MemoryUsage {
  uint64_t usage_bytes = 0;          // v2 memory.current, v1 memory.usage_in_bytes
  uint64_t inactive_file_bytes = 0;  // v2 memory.stat inactive_file, v1 total_inactive_file
  uint64_t working_set_bytes = 0;    // usage_bytes − inactive_file_bytes, ≥ 0
};
// The figures from a usage and an inactive file count: working set = usage − inactive, ≥ 0.
MemoryUsage memoryUsage(uint64_t usage_bytes, uint64_t inactive_file_bytes);
// v2 memory.current, v1 memory.usage_in_bytes: bytes. EINVAL on anything but a number.
Result<uint64_t> parseMemoryUsageBytes(std::string_view text);
// The inactive file pages of a memory.stat, bytes: v2 its inactive_file line, v1 its
// total_inactive_file line (hierarchical, as v1's usage_in_bytes is). EINVAL when the line is
// missing or malformed.
Result<uint64_t> parseInactiveFile(std::string_view memory_stat, CgroupVersion version);

struct Pressure {
  double some_avg10 = 0;
  std::optional<double> full_avg10;  // the "full" line is absent on older kernels' cpu.pressure
};
// cpu.pressure ("some avg10=1.50 avg60=... total=...\nfull avg10=...").
Result<Pressure> parsePressure(std::string_view text);

}  // namespace colo::agent
