// EnforcementPlan: what the policy engine wants the node to look like, in kernel-neutral terms.
// The policy engine (userspace/agent/policy) produces it every tick; a kmods-free backend
// translates it into the knobs this kernel offers (cgroup v1/v2, cpu.idle, group identity, ...)
// and applies it through the executor, which journals, verifies and rolls back every write.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace colo::kmods {

enum class PlanTier : uint8_t { kBE = 1, kLS = 2, kLSR = 3, kLSX = 4 };

// One container (or pod) cgroup the plan talks about. Paths are relative to the root of the
// hierarchy that carries the controller ("/kubepods/besteffort/pod<uid>").
struct PlanCgroup {
  std::string id;          // stable key: container id, or cgroup path outside Kubernetes
  std::string cgroup;      // container cgroup path
  std::string pod_cgroup;  // pod-level cgroup path ("" outside Kubernetes)
  PlanTier tier = PlanTier::kLS;
};

struct CpuPools {
  std::vector<int> lsx;     // exclusive cores: no other tier, BE included
  std::vector<int> lsr;     // reserved cores: BE may borrow while idle
  std::vector<int> shared;  // LS pool
  std::vector<int> be;      // BE-only pool
};

struct EnforcementPlan {
  std::vector<PlanCgroup> cgroups;
  CpuPools pools;
  // CPUs BE containers may run on now (BE pool + shared + borrowable LSR, after suppression).
  // Never empty: the suppression controller keeps a floor.
  std::vector<int> be_cpus;
  // Hard cap on all BE work together, in cores; nullopt = no quota (the default: quota
  // throttling worsens LS tail latency, see kmods-free/README.md).
  std::optional<double> be_quota_cores;
  // LS containers throttled by their own limit: burst to allow, in microseconds per period.
  std::map<std::string, uint64_t> ls_burst_us;  // key: PlanCgroup::id
  // LS containers whose CPU limit is raised in place, in cores. key: PlanCgroup::id
  std::map<std::string, double> ls_limit_cores;
  // EEVDF slice for every task of the BE containers, in ns (sched_setattr sched_runtime,
  // Linux 6.12+; kmods-free/task_slice.h); 0: the kernel's default, untouched.
  uint64_t be_task_slice_ns = 0;
  // memory.high (v2) / soft cap (v1) on BE containers together, in bytes; nullopt = uncapped.
  std::optional<uint64_t> be_memory_high_bytes;
  // Why the plan is what it is, one line per controller decision (for revisions and logs).
  std::vector<std::string> reasons;
};

}  // namespace colo::kmods
