// CgroupStatIter: CPU usage and CFS bandwidth figures of every cgroup below one directory, in
// one read of a BPF cgroup iterator (bpf/cgstat.bpf.c) instead of two pread(2)s per cgroup of
// cpu.stat and cpuacct.usage.
//
// The C++ struct here is the agent's view; the ABI record in bpf/abi/cgstat.h stays behind this
// interface. Thread-compatibility: one thread uses a CgroupStatIter at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace colo::bpf {

// Figures of one cgroup, read from its cpu controller state (struct task_group).
struct CgroupCpuFigures {
  uint64_t id = 0;  // inode number of the cgroup directory (kernfs id)
  // Fair-class runtime of the group: sum over CPUs of its scheduling entities' runtime (ns).
  // Equals cpuacct.usage (v1) while the group runs no RT/deadline tasks; 0 for the root group.
  uint64_t usage_ns = 0;
  uint64_t nr_periods = 0;    // CFS bandwidth periods with the quota active (cpu.stat)
  uint64_t nr_throttled = 0;  // periods in which the group was throttled (cpu.stat)
  uint64_t throttled_ns = 0;  // time throttled (ns; cpu.stat throttled_time, v2 throttled_usec)
  uint32_t level = 0;         // depth below the hierarchy root (the root is 0)
  uint32_t limit_mcpu = 0;    // the group's own CFS quota / period, millicores; 0: no limit
  // false: the cgroup has no cpu controller state of its own (v2 with "cpu" not enabled by its
  // parent); every figure above is then 0, not an ancestor's.
  bool has_cpu_css = false;
  // A kernel read failed for some CPU's entity: usage_ns may be short (should not happen).
  bool partial = false;
};

class CgroupStatIter {
 public:
  // Loads the iterator program (embedded; no .o read) and attaches it to `cgroup_dir`, a
  // directory of a cgroup v1 hierarchy that has the cpu controller, or of cgroup v2. Each read()
  // then visits that cgroup and all its descendants, parents first.
  // Errors: ENOENT/ENOTDIR (no such directory), EINVAL (not on a cgroup file system), EPERM (needs
  // root or CAP_BPF+CAP_PERFMON), and the loader's error when the kernel lacks BTF or
  // iter/cgroup or bpf_rdonly_cast (Linux < 6.2): the caller then falls back to cgroupfs reads.
  // `leaves_only`: report only cgroups without children (the containers of a kubelet tree):
  // the walk still visits the others, but reads and writes nothing for them (about half the
  // cost per read at one pod per container), and only leaves count against the size limit.
  static Result<std::unique_ptr<CgroupStatIter>> open(const std::string& cgroup_dir,
                                                      bool leaves_only = false);

  ~CgroupStatIter();
  CgroupStatIter(const CgroupStatIter&) = delete;
  CgroupStatIter& operator=(const CgroupStatIter&) = delete;

  // Replaces *out with one entry per cgroup under (and including) the directory, parents before
  // children. Allocates nothing once *out has the capacity (the read buffer is reused).
  // Cgroups removed meanwhile are simply absent. Errors: E2BIG/EOPNOTSUPP when the tree holds
  // more cgroups than one kernel read session returns (see docs/bpf.md), EPROTO on a record of
  // another ABI version, or the errno of bpf_iter_create/read.
  Status read(std::vector<CgroupCpuFigures>* out);

  // The directory given to open().
  const std::string& dir() const;

 private:
  struct State;
  explicit CgroupStatIter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace colo::bpf
