// Parsers for the cgroup files the collector reads each tick.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

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

struct Pressure {
  double some_avg10 = 0;
  std::optional<double> full_avg10;  // the "full" line is absent on older kernels' cpu.pressure
};
// cpu.pressure ("some avg10=1.50 avg60=... total=...\nfull avg10=...").
Result<Pressure> parsePressure(std::string_view text);

}  // namespace colo::agent
