// Engine: the colod policy engine. Fed one NodeSnapshot per tick (and ring-buffer latency events
// as they arrive), it runs the controllers in order
//   pools → lsr-borrow → be-cpu-suppression → latency-guard → ls-throttle-relief →
//   be-memory-guard
// and turns their drafts into one kmods::EnforcementPlan. It also keeps the BE capacity (with
// every term) and the per-container profiles.
//
// Thread-compatibility: one thread (colod's event loop) calls everything; the JSON and
// Prometheus getters copy out, so the API server can call them from the same loop.
#pragma once

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/policy/be_cpu_suppression.h"
#include "agent/policy/capacity.h"
#include "agent/policy/config.h"
#include "agent/policy/freeze.h"
#include "agent/policy/latency_guard.h"
#include "agent/policy/lsr_borrow.h"
#include "agent/policy/memory_guard.h"
#include "agent/policy/pools.h"
#include "agent/policy/profile.h"
#include "agent/policy/snapshot.h"
#include "agent/policy/throttle_relief.h"
#include "common/result.h"
#include "kmods-free/enforcement_plan.h"

namespace colo::policy {

struct ControllerStatus {
  std::string name;
  std::string state;
  nlohmann::json detail;  // the controller's stateJson()
};

struct EngineStatus {
  bool frozen = false;
  std::vector<std::string> freeze_reasons;
  uint64_t ticks = 0;           // snapshots seen
  uint64_t frozen_ticks = 0;    // of which the engine sat out
  uint64_t freezes = 0;         // times it entered the frozen state
  uint64_t latency_events = 0;  // onLatencyEvent calls
  uint64_t event_plans = 0;     // plans produced between ticks
  std::vector<ControllerStatus> controllers;
};

class Engine {
 public:
  // Checks the config (the error names the bad key) and builds an engine.
  static Result<std::unique_ptr<Engine>> create(const PolicyConfig& cfg);
  // Precondition: cfg.validate() succeeded.
  explicit Engine(const PolicyConfig& cfg);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // One tick. Returns the plan to enforce (lastPlan(), valid until the next call of onTick or
  // onLatencyEvent), or nullptr while frozen: apply nothing then (the reasons are in status()).
  // The plan is built in the storage of the one before last: no allocation per container.
  const kmods::EnforcementPlan* onTick(const NodeSnapshot& snap);
  // One ring-buffer event (an LS-family task waited delay_ns). Returns a new plan when the
  // event changed the BE cpuset or quota (latency-guard squeeze, or an LSR event taking lent
  // CPUs back); nullopt otherwise, before the first tick, and while frozen.
  std::optional<kmods::EnforcementPlan> onLatencyEvent(Tier tier, uint64_t delay_ns,
                                                       int64_t now_ns);

  EngineStatus status() const;
  const BeCapacity& capacity() const { return capacity_.capacity(); }
  const std::optional<kmods::EnforcementPlan>& lastPlan() const { return last_plan_; }
  std::optional<ContainerProfile> profile(const std::string& id) const {
    return profiles_.profile(id, cfg_);
  }
  const PolicyConfig& config() const { return cfg_; }
  // The latency guard holds BE under a limit now (node-metrics `ls.guard`).
  bool latencyGuardActive() const { return !std::isinf(guard_.limit()); }

  // /v1/controllers: frozen state and why, pools, every controller's state.
  nlohmann::json statusJson() const;
  // /v1/node: BE capacity with every term, the formula, pools and the BE cpuset in force.
  nlohmann::json nodeJson() const;
  // Profiles keyed by container id (/v1/containers, coloctl profile).
  nlohmann::json profilesJson() const { return profiles_.toJson(cfg_); }
  // Prometheus text: colo_be_cpu_millicores, colo_be_memory_bytes, colo_ot_cpu_millicores,
  // colo_be_capacity_term{term}, colo_policy_frozen, colo_policy_controller_state{controller,
  // state}, colo_policy_controller_gauge{controller,name}, ...
  std::string prometheusText() const;

 private:
  void finalize(const PlanDraft& draft, kmods::EnforcementPlan* plan) const;

  PolicyConfig cfg_;
  FreezeGuard freeze_;
  PoolAllocator pools_;
  LsrBorrow lsr_;
  BeCpuSuppression suppression_;
  LatencyGuard guard_;
  ThrottleRelief relief_;
  BeMemoryGuard memory_;
  std::vector<Controller*> controllers_;  // run order
  CapacityEstimator capacity_;
  ProfileStore profiles_;
  std::optional<PlanDraft> last_draft_;  // the event path rebuilds the plan from it
  std::optional<kmods::EnforcementPlan> last_plan_;
  kmods::EnforcementPlan spare_plan_;  // the plan before last_plan_: storage for the next tick
  uint64_t ticks_ = 0;
  uint64_t frozen_ticks_ = 0;
  uint64_t latency_events_ = 0;
  uint64_t event_plans_ = 0;
};

}  // namespace colo::policy
