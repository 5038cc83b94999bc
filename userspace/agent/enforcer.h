// Enforcer: the policy half of colod. Owns the policy engine, the kmods-free backend chosen from
// the kernel feature probe, and the executor every write goes through.
//
//   tick:          colod Snapshot + node reading -> NodeSnapshot -> Engine::onTick ->
//   Backend::apply latency event: Engine::onLatencyEvent -> Backend::apply at once (the squeeze
//   does not wait for
//                  the next tick); the time from the event's BPF timestamp to the verified write is
//                  the guard's reaction time (colo_guard_reaction_seconds).
//   start:         Executor::reconcile (a crashed run's knobs restored first)
//   stop:          Executor::restoreAll (every knob back to its pre-colo value)
//   BE task slices: TaskSlicer (kmods-free/task_slice.h) after each applied plan and every
//                  rescan interval; reconciled at start and restored at stop like the knobs.
//
// Freeze inputs: the freshness of each signal (proc-stat, meminfo, cgroup-stats, bpf-stats) and
// the executor's health (cgroupfs writable).
//
// Threads: the agent's loop calls onTick/onLatencyEvent/shutdown; the HTTP thread calls the
// *Json/metricsText getters. The engine sits behind a mutex; the executor has its own.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/executor/executor.h"
#include "agent/node_stats.h"
#include "agent/policy/engine.h"
#include "agent/snapshot.h"
#include "bpf/sched_probe.h"
#include "common/fs.h"
#include "kmods-free/backend.h"
#include "kmods-free/feature_probe.h"
#include "kmods-free/task_slice.h"

namespace colo::agent {

struct EnforcerOptions {
  policy::PolicyConfig policy;
  bool enforce = true;  // false: plans are computed and published, nothing is written
  executor::ExecutorOptions executor;
  std::string proc_root = "/proc";
  std::string sys_root = "/sys";
  // Run Backend::apply on a tick only when the plan differs from the last one applied, or this
  // long after the last full apply (catches knobs changed behind colo's back).
  int64_t reapply_interval_ns = 10'000'000'000;
};

// Reaction-time histogram buckets, seconds.
inline constexpr std::array<double, 10> kReactionBuckets = {0.001, 0.002, 0.005, 0.01, 0.02,
                                                            0.05,  0.1,   0.2,   0.5,  1.0};

class Enforcer {
 public:
  // Opens the executor and reconciles its journal (also when not enforcing: a crashed run's
  // knobs come back either way); `features` come from the probe. `fs` must outlive the enforcer.
  static Result<std::unique_ptr<Enforcer>> create(EnforcerOptions options,
                                                  kmods::KernelFeatures features, FileSystem& fs);
  ~Enforcer();

  // One tick, after the collector's.
  void onTick(const Snapshot& snap, const AgentStats& stats, int64_t now_ns);
  // One ring-buffer latency event; `now_ns` is CLOCK_MONOTONIC.
  void onLatencyEvent(const bpf::LatencyEvent& event, int64_t now_ns);
  // Restores every knob (SIGTERM). Ok when all came back.
  Status shutdown();

  // API bodies (any thread).
  nlohmann::json controllersJson() const;
  nlohmann::json nodeJson() const;
  nlohmann::json profilesJson() const;
  std::string metricsText() const;
  bool enforcing() const { return backend_ != nullptr; }
  const executor::RestoreReport& reconcileReport() const { return reconcile_; }

 private:
  Enforcer(EnforcerOptions options, kmods::KernelFeatures features, FileSystem& fs);
  // Applies `plan`; returns true when every write held. Caller holds no lock.
  bool apply(const kmods::EnforcementPlan& plan, bool from_event);
  // Keeps the BE tasks of `plan` at its slice (TaskSlicer); `changed`: the plan is new.
  void applySlices(const kmods::EnforcementPlan& plan, bool changed, int64_t now_ns);

  EnforcerOptions options_;
  FileSystem& fs_;
  kmods::KernelFeatures features_;
  std::unique_ptr<executor::Executor> executor_;
  std::unique_ptr<kmods::Backend> backend_;
  executor::RestoreReport reconcile_;
  NodeSampler sampler_;
  policy::NodeSnapshot node_snapshot_;  // the engine's input, rebuilt in place each tick
  SignalTracker signals_;
  uint64_t last_read_errors_ = 0;
  std::vector<policy::LatencyEvent> pending_events_;
  kmods::EnforcementPlan tick_plan_;  // this tick's plan when it is applied (tick thread only)
  // BE task slices, where the kernel takes custom slices (nullptr otherwise; tick thread only).
  std::unique_ptr<kmods::TaskSlicer> slicer_;
  std::vector<std::string> slice_dirs_;  // the BE container directories of the last plan

  mutable std::mutex mu_;  // guards everything below
  std::unique_ptr<policy::Engine> engine_;
  std::optional<kmods::EnforcementPlan> applied_;
  int64_t applied_at_ns_ = 0;
  uint64_t applies_ = 0, apply_failures_ = 0, event_applies_ = 0;
  std::vector<std::string> last_errors_, last_warnings_;
  double reaction_last_s_ = -1;
  uint64_t reaction_count_ = 0;
  double reaction_sum_s_ = 0;
  kmods::TaskSliceStatus slice_status_;
  kmods::TaskSliceCounts slice_reconcile_;
  std::array<uint64_t, kReactionBuckets.size()> reaction_buckets_{};
};

// True when the two plans would write the same knobs.
bool samePlan(const kmods::EnforcementPlan& a, const kmods::EnforcementPlan& b);

}  // namespace colo::agent
