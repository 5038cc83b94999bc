// NodeSnapshot: everything the policy engine looks at in one tick. colod's collector fills it
// from cgroupfs, /proc and the BPF maps; the engine never reads the kernel itself, so every
// decision can be replayed from snapshots in unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kmods-free/enforcement_plan.h"

namespace colo::policy {

// QoS tier; the same numbering as the plan and the BPF side (BE=1 < LS < LSR < LSX=4).
using Tier = kmods::PlanTier;

const char* tierName(Tier tier);  // "BE", "LS", "LSR", "LSX"
// Parses "BE", "LS", "LSR", "LSX" (case-insensitive); nullopt otherwise.
std::optional<Tier> parseTier(std::string_view text);
// LSX, LSR and LS: the tiers BE yields to.
inline bool isLatencySensitive(Tier tier) { return tier != Tier::kBE; }

// One container (or pod, or host cgroup) as seen over the last tick.
struct ContainerSample {
  std::string id;          // stable key: container id, or cgroup path outside Kubernetes
  std::string cgroup;      // container cgroup path, relative to the hierarchy root
  std::string pod_cgroup;  // pod cgroup path ("" outside Kubernetes)
  // The source's number for this container, when it has one (colod: ContainerView::serial):
  // id, cgroup and pod_cgroup are the same in every sample with the same non-zero serial, so a
  // sample rebuilt in place keeps its strings. 0: none.
  uint64_t serial = 0;
  Tier tier = Tier::kLS;
  double cpu_usage_cores = 0;               // CPU used over the last tick, in cores
  std::optional<double> cpu_request_cores;  // Kubernetes request, cores; nullopt: none
  std::optional<double> cpu_limit_cores;    // cpu.max / cfs_quota_us as cores; nullopt: none
  double throttled_ratio = 0;               // nr_throttled / nr_periods over the last tick, 0..1
  uint64_t runq_p99_ns = 0;                 // run-queue delay p99 over the short window, ns
  // Fraction (0..1) of the recent ticks whose p99 was over the tier threshold, when the
  // collector computes it; nullopt: the engine derives it from its own window of runq_p99_ns.
  std::optional<double> runq_over_threshold_fraction;
  // Bytes. colod: the working set as kubelet counts it (memory.current / usage_in_bytes minus
  // inactive file pages), read about once a second; 0 while unknown. The engine only compares.
  uint64_t memory_usage_bytes = 0;
};

// A latency event from the BPF ring buffer: an LS-family task waited delay_ns to run.
struct LatencyEvent {
  Tier tier = Tier::kLS;
  uint64_t delay_ns = 0;
  int64_t timestamp_ns = 0;  // CLOCK_MONOTONIC
};

// Freshness of one input source ("cpu.stat", "bpf-stats", "psi", "meminfo", ...).
struct SignalHealth {
  std::string name;
  int64_t age_ns = 0;                 // time since the last successful read
  uint32_t consecutive_failures = 0;  // failed reads in a row (0 after a success)
};

struct NodeSnapshot {
  int64_t now_ns = 0;            // CLOCK_MONOTONIC at the end of the tick
  int cpu_count = 0;             // possible CPUs (nproc --all)
  std::vector<int> online_cpus;  // ascending
  // Hardware cores as lists of sibling CPUs ({0,32},{1,33},...). Empty: every online CPU is its
  // own core. LSX is given whole cores only.
  std::vector<std::vector<int>> core_siblings;
  double node_cpu_usage_cores = 0;    // whole node, cores, over the last tick
  double system_cpu_usage_cores = 0;  // node usage outside any container (kernel, daemons)
  uint64_t memory_total_bytes = 0;
  uint64_t memory_available_bytes = 0;          // MemAvailable
  std::optional<double> memory_psi_some_avg10;  // %, nullopt where the kernel has no PSI
  std::optional<double> memory_psi_full_avg10;
  std::vector<ContainerSample> containers;
  std::vector<LatencyEvent> latency_events;  // received since the previous tick
  std::vector<SignalHealth> signals;
  // The backend gives BE pods cpu.idle=1 (SCHED_IDLE): BE runs only on time LS leaves idle.
  // Chooses BE CPU suppression's mode when be_cpu.mode is auto.
  bool be_idle_class = false;
  bool cgroupfs_writable = true;  // from the executor's health
  std::string cgroupfs_error;     // why not, when !cgroupfs_writable
};

}  // namespace colo::policy
