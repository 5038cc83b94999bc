// Kernel feature probe: which mainline interfaces this kernel offers for "LS preempts BE".
// Reads cgroupfs, /sys and /proc through FileSystem, plus one prctl() for core scheduling.
// Per-cgroup files are looked up in a probe cgroup "colo-probe-<pid>" that the probe creates and
// removes under each hierarchy (hierarchy roots lack cpu.idle, cpu.max, ...).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/cgroup_mounts.h"
#include "common/fs.h"
#include "common/result.h"

namespace colo::kmods {

struct ControllerSupport {
  std::string v1_mount;  // mount point when on a cgroup v1 hierarchy, "" otherwise
  bool v2 = false;       // available on the cgroup2 hierarchy
};

struct KernelFeatures {
  CgroupMounts mounts;
  std::string cpu_hierarchy;  // "v1", "v2" or "none": where the cpu controller lives
  std::map<std::string, ControllerSupport> controllers;  // cpu, cpuacct, cpuset, memory, io, pids

  bool cpu_idle = false;           // cpu.idle: SCHED_IDLE semantics for a whole cgroup
  bool cpu_burst = false;          // cpu.max.burst (v2) or cpu.cfs_burst_us (v1)
  bool cpu_quota = false;          // cpu.max (v2) or cpu.cfs_quota_us (v1)
  bool cpu_weight = false;         // cpu.weight (v2) or cpu.shares (v1)
  bool cpuset = false;             // cpuset.cpus in a child cgroup
  bool cpuset_partition = false;   // cpuset.cpus.partition (v2)
  bool cpuset_exclusive = false;   // cpuset.cpu_exclusive (v1)
  bool psi = false;                // /proc/pressure/cpu readable (not disabled by psi=0)
  bool psi_cgroup = false;         // cpu.pressure in cgroups
  bool group_identity = false;     // cpu.bvt_warp_ns (vendor kernels only)
  bool btf = false;                // /sys/kernel/btf/vmlinux
  std::string core_sched;          // "available", "no-smt" (built, but no SMT), "absent"
  std::string sched_ext;           // "enabled", "disabled" (built in, not running), "absent"
  bool memory_high = false;        // memory.high (v2)
  bool memory_soft_limit = false;  // memory.soft_limit_in_bytes (v1)
  // Custom EEVDF slices (sched_setattr sched_runtime on a fair task, Linux >= 6.12): the
  // kernel's default slice in ns, 0 where custom slices are not taken.
  uint64_t sched_slice_default_ns = 0;

  std::vector<std::string> notes;  // what could not be probed, and why
};

// What the probe needs from the system; every hook has a real default (see realProbeEnv()).
struct ProbeEnv {
  FileSystem* fs = nullptr;
  CgroupMounts mounts;
  std::string sys_root = "/sys";
  std::string proc_root = "/proc";
  std::function<Status(const std::string&)> make_dir;    // mkdir one cgroup
  std::function<Status(const std::string&)> remove_dir;  // rmdir one cgroup
  // errno of prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, ...) for this process: 0 when it works.
  std::function<int()> core_sched_errno;
  // The kernel's default fair slice when it takes custom ones, nullopt when not
  // (kmods::probeCustomSlice).
  std::function<std::optional<uint64_t>()> custom_slice;
  std::string probe_name;  // "colo-probe-<pid>" when empty
};

// Real hooks: RealFs, detected mounts, mkdir/rmdir, prctl.
Result<ProbeEnv> realProbeEnv(FileSystem* fs);

// Probes the kernel. Fails only when no cgroup hierarchy is mounted; a probe cgroup that cannot
// be created (not root) leaves per-cgroup features false with a note.
Result<KernelFeatures> probeFeatures(const ProbeEnv& env);
// probeFeatures() on this machine.
Result<KernelFeatures> probeKernel();

// One line per feature: name, state, detail.
void printFeaturesTable(const KernelFeatures& f, std::ostream& out);
// JSON object; see kmods-free/README.md for the fields.
std::string featuresJson(const KernelFeatures& f);

}  // namespace colo::kmods
