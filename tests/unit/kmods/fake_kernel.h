// Fake kernels for the kmods-free unit tests: FakeFs trees shaped like real cgroup layouts.
#pragma once

#include <string>

#include "common/cgroup_mounts.h"
#include "common/fs.h"
#include "kmods-free/feature_probe.h"

namespace colo::kmods::test {

// This project's CI machine: hybrid, v1 cpu/cpuacct/cpuset/memory, controller-less cgroup2.
inline CgroupMounts v1Mounts() {
  CgroupMounts m;
  m.unified = "/sys/fs/cgroup/unified";
  m.v1 = {{"cpu", "/sys/fs/cgroup/cpu"},
          {"cpuacct", "/sys/fs/cgroup/cpuacct"},
          {"cpuset", "/sys/fs/cgroup/cpuset"},
          {"memory", "/sys/fs/cgroup/memory"}};
  return m;
}

inline CgroupMounts v2Mounts() {
  CgroupMounts m;
  m.unified = "/sys/fs/cgroup";
  m.unified_controllers = "cpuset cpu io memory pids";
  return m;
}

// Features as the probe reports them for each layout.
inline KernelFeatures v1Features(bool cpu_idle = true) {
  KernelFeatures f;
  f.mounts = v1Mounts();
  f.cpu_hierarchy = "v1";
  f.cpu_idle = cpu_idle;
  f.cpu_weight = f.cpu_quota = f.cpu_burst = f.cpuset = true;
  f.memory_soft_limit = true;
  return f;
}

inline KernelFeatures v2Features(bool cpu_idle = true) {
  KernelFeatures f;
  f.mounts = v2Mounts();
  f.cpu_hierarchy = "v2";
  f.cpu_idle = cpu_idle;
  f.cpu_weight = f.cpu_quota = f.cpu_burst = f.cpuset = f.cpuset_partition = true;
  f.memory_high = true;
  return f;
}

// Creates a v1 cgroup with the files the backend reads and writes, in every v1 hierarchy.
inline void addV1Cgroup(FakeFs& fs, const std::string& rel, const std::string& cpus = "0-3") {
  std::string cpu = joinPath("/sys/fs/cgroup/cpu", rel);
  fs.put(cpu + "/cpu.idle", "0\n");
  fs.put(cpu + "/cpu.shares", "1024\n");
  fs.put(cpu + "/cpu.cfs_quota_us", "-1\n");
  fs.put(cpu + "/cpu.cfs_period_us", "100000\n");
  fs.put(cpu + "/cpu.cfs_burst_us", "0\n");
  fs.put(joinPath("/sys/fs/cgroup/cpuset", rel) + "/cpuset.cpus", cpus + "\n");
  fs.put(joinPath("/sys/fs/cgroup/memory", rel) + "/memory.soft_limit_in_bytes",
         "9223372036854771712\n");
}

inline void addV2Cgroup(FakeFs& fs, const std::string& rel, const std::string& cpus = "") {
  std::string d = joinPath("/sys/fs/cgroup", rel);
  fs.put(d + "/cpu.idle", "0\n");
  fs.put(d + "/cpu.weight", "100\n");
  fs.put(d + "/cpu.max", "max 100000\n");
  fs.put(d + "/cpu.max.burst", "0\n");
  fs.put(d + "/cpuset.cpus", cpus + "\n");
  fs.put(d + "/cpuset.cpus.partition", "member\n");
  fs.put(d + "/memory.high", "max\n");
}

}  // namespace colo::kmods::test
