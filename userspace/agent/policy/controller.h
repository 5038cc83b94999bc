// Controller: one per resource. Each tick the engine runs them in a fixed order over a shared
// TickInput; each writes its own part of the PlanDraft and keeps its own state, which
// /v1/controllers and `coloctl controllers` show.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/policy/config.h"
#include "agent/policy/pools.h"
#include "agent/policy/snapshot.h"
#include "kmods-free/enforcement_plan.h"

namespace colo::policy {

// What every controller sees in one tick: the snapshot and figures derived from it once.
struct TickInput {
  const NodeSnapshot& snap;
  const PolicyConfig& cfg;
  const PoolLayout& layout;
  int online_cpus = 0;
  double ls_usage_cores = 0;  // LSX + LSR + LS containers
  double be_usage_cores = 0;
  uint64_t be_memory_bytes = 0;
  int current_be_cpus = 0;  // size of the BE cpuset in the previous plan (0 before the first)
};

// The plan being built, plus the intermediate figures the engine combines into be_cpus.
struct PlanDraft {
  kmods::EnforcementPlan plan;
  std::vector<int> lsr_lent;  // LSR CPUs BE may borrow now (lsr-borrow)
  int be_cpus_budget = 0;     // BE cpuset size wanted by suppression
  // Ceiling on the BE cpuset size from the latency guard; +inf when it is not squeezing.
  double be_cpus_guard_limit = std::numeric_limits<double>::infinity();
  std::optional<double> be_quota_cores;  // from suppression when quota_enabled

  // CPUs BE could use with no suppression: BE pool + lent LSR + shared, in preference order.
  std::vector<int> beCandidates(const PoolLayout& layout) const;
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual std::string_view name() const = 0;
  // One word: "idle", "suppressing", "squeezing", ... (the state gauge's label).
  virtual std::string_view state() const = 0;
  virtual nlohmann::json stateJson() const = 0;
  // Numeric figures for /metrics, as (suffix, value): exported as colo_policy_<name>_<suffix>.
  virtual std::vector<std::pair<std::string, double>> gauges() const = 0;
  // Advances one tick and writes this controller's part of the draft. Not called while frozen.
  virtual void step(const TickInput& in, PlanDraft& draft) = 0;
};

}  // namespace colo::policy
