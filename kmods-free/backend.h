// Backend: expresses an EnforcementPlan with the knobs this kernel offers (see README.md for the
// mapping table) and applies it through the executor.
//
// planWrites() is the pure part: plan + probed features + current knob values -> an ordered list
// of (path, value, reason). Backend::apply() hands each write to the executor as one revision and
// restores, through the executor, every knob an earlier plan set that this plan no longer sets
// (tier changed, cap lifted, container gone). Not thread-safe: one owner (the agent's loop).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "agent/executor/executor.h"
#include "common/fs.h"
#include "kmods-free/enforcement_plan.h"
#include "kmods-free/feature_probe.h"

namespace colo::kmods {

struct KnobWrite {
  std::string path;  // absolute
  std::string value;
  std::string reason;
  bool operator==(const KnobWrite&) const = default;
};

struct PlanWrites {
  std::vector<KnobWrite> writes;
  std::vector<std::string> warnings;  // plan entries that were not expressed, and why
};

// Pure translation. Reads current values through `fs` only to order cpuset writes (cgroup v1
// wants a child's cpus inside its parent's) and to learn CFS periods. Never writes cpu.idle,
// cpu.shares or cpu.weight on kubelet's QoS directories (kubepods, burstable, besteffort).
PlanWrites planWrites(const EnforcementPlan& plan, const KernelFeatures& features,
                      const FileSystem& fs);

// True for kubelet's QoS-level directories, whose cpu.shares kubelet rewrites: cpu.idle there
// locks the weight and kubelet fails.
bool isKubeletQosDir(std::string_view cgroup);

struct ApplyReport {
  size_t planned = 0;    // writes in the plan
  size_t failed = 0;     // writes that failed (and were rolled back by the executor)
  size_t vanished = 0;   // writes whose cgroup was gone
  size_t restored = 0;   // knobs no longer in the plan, put back to their pre-colo value
  bool stopped = false;  // rate limit or freeze: the rest waits for the next plan
  std::optional<uint64_t> revision;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

class Backend {
 public:
  // `fs` and `executor` must outlive the backend.
  Backend(KernelFeatures features, FileSystem& fs, executor::Executor& executor);

  ApplyReport apply(const EnforcementPlan& plan);
  const KernelFeatures& features() const { return features_; }

 private:
  KernelFeatures features_;
  FileSystem& fs_;
  executor::Executor& executor_;
  std::set<std::string> managed_;  // knobs the last plan set
};

}  // namespace colo::kmods
