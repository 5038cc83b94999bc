#include "agent/policy/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace colo::policy {
namespace {

std::string escapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void gauge(std::string& out, std::string_view name, std::string_view help, double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(const PolicyConfig& cfg) {
  if (auto s = cfg.validate(); !s) {
    return fail(s.error().wrap("policy config"));
  }
  return std::make_unique<Engine>(cfg);
}

Engine::Engine(const PolicyConfig& cfg) : cfg_(cfg), guard_(cfg), capacity_(cfg.capacity) {
  // Order matters: suppression needs the lent LSR CPUs, the guard the suppressed size.
  controllers_ = {&lsr_, &suppression_, &guard_, &relief_, &memory_};
}

void Engine::finalize(const PlanDraft& draft, kmods::EnforcementPlan* out) const {
  kmods::EnforcementPlan& plan = *out;
  const PoolLayout& layout = pools_.layout();
  std::vector<int> candidates = draft.beCandidates(layout);
  const int have = static_cast<int>(candidates.size());
  const int floor_cpus = std::min(cfg_.be_cpu.min_cpus, have);
  double want = draft.be_cpus_budget;
  if (!std::isinf(draft.be_cpus_guard_limit)) {
    want = std::min(want, std::floor(draft.be_cpus_guard_limit));
  }
  int n = std::clamp(static_cast<int>(want), floor_cpus, have);
  plan.be_cpus.assign(candidates.begin(), candidates.begin() + n);
  std::sort(plan.be_cpus.begin(), plan.be_cpus.end());
  plan.pools = layout.pools;
  plan.be_task_slice_ns = static_cast<uint64_t>(cfg_.be_cpu.task_slice_us) * 1000;
  plan.be_quota_cores.reset();
  if (draft.be_quota_cores) {
    double q = *draft.be_quota_cores;
    if (!std::isinf(draft.be_cpus_guard_limit)) {
      q = std::min(q, draft.be_cpus_guard_limit);
    }
    q = std::min(q, static_cast<double>(n));
    plan.be_quota_cores = std::max(q, static_cast<double>(floor_cpus));
  }
}

const kmods::EnforcementPlan* Engine::onTick(const NodeSnapshot& snap) {
  ticks_++;
  bool was_frozen = freeze_.frozen();
  if (freeze_.evaluate(snap, cfg_.freeze)) {
    frozen_ticks_++;
    return nullptr;
  }

  const PoolLayout& layout = pools_.allocate(snap, cfg_);
  TickInput in{snap, cfg_, layout};
  in.online_cpus = static_cast<int>(snap.online_cpus.size());
  for (const auto& c : snap.containers) {
    if (isLatencySensitive(c.tier)) {
      in.ls_usage_cores += c.cpu_usage_cores;
    } else {
      in.be_usage_cores += c.cpu_usage_cores;
      in.be_memory_bytes += c.memory_usage_bytes;
    }
  }

  PlanDraft draft;
  // Built in the storage of the plan before last: the containers are mostly the same ones, so
  // their strings are assigned into buffers of the right size.
  kmods::EnforcementPlan& plan = draft.plan;
  plan.cgroups = std::move(spare_plan_.cgroups);
  spare_plan_ = {};
  if (was_frozen) {
    // The pressure samples from before the freeze are stale: start the windows afresh.
    guard_.resetWindows();
    draft.plan.reasons.push_back("engine: resumed after a freeze");
  }
  for (const auto& s : layout.shortfalls) {
    draft.plan.reasons.push_back(fmt::format("pools: {}", s));
  }
  plan.cgroups.resize(snap.containers.size());
  for (size_t i = 0; i < snap.containers.size(); ++i) {
    const ContainerSample& c = snap.containers[i];
    kmods::PlanCgroup& pc = plan.cgroups[i];
    pc.id.assign(c.id);
    pc.cgroup.assign(c.cgroup);
    pc.pod_cgroup.assign(c.pod_cgroup);
    pc.tier = c.tier;
  }
  for (Controller* c : controllers_) {
    if (c == &guard_) {
      // The guard squeezes from the BE cpuset in force; before the first plan, from what
      // suppression would give.
      in.current_be_cpus =
          last_plan_ ? static_cast<int>(last_plan_->be_cpus.size()) : draft.be_cpus_budget;
    }
    c->step(in, draft);
  }
  capacity_.update(snap, layout, cfg_);
  profiles_.update(snap, cfg_);

  finalize(draft, &plan);
  if (last_plan_) {
    spare_plan_ = std::move(*last_plan_);
  }
  last_plan_ = std::move(plan);
  draft.plan = {};  // the event path needs only the intermediate figures
  last_draft_ = std::move(draft);
  return &*last_plan_;
}

std::optional<kmods::EnforcementPlan> Engine::onLatencyEvent(Tier tier, uint64_t delay_ns,
                                                             int64_t now_ns) {
  latency_events_++;
  if (freeze_.frozen() || !last_draft_ || !last_plan_) {
    return std::nullopt;
  }
  std::vector<std::string> reasons;
  bool changed = false;
  if (tier == Tier::kLSR && delay_ns >= cfg_.thresholdNs(Tier::kLSR) && lsr_.revoke()) {
    // An LSR task waited: whatever BE borrowed from LSR goes back now, not at the next tick.
    last_draft_->lsr_lent.clear();
    reasons.push_back(
        fmt::format("lsr-borrow: LSR task waited {} us: take lent CPUs back", delay_ns / 1000));
    changed = true;
  }
  std::string why;
  if (guard_.onEvent(cfg_, tier, delay_ns, now_ns, static_cast<int>(last_plan_->be_cpus.size()),
                     &why)) {
    last_draft_->be_cpus_guard_limit = guard_.limit();
    reasons.push_back(why);
    changed = true;
  }
  if (!changed) {
    return std::nullopt;
  }
  kmods::EnforcementPlan plan = *last_plan_;
  finalize(*last_draft_, &plan);
  if (plan.be_cpus == last_plan_->be_cpus && plan.be_quota_cores == last_plan_->be_quota_cores) {
    return std::nullopt;  // e.g. already at the floor
  }
  plan.reasons = std::move(reasons);
  last_plan_ = plan;
  event_plans_++;
  return plan;
}

EngineStatus Engine::status() const {
  EngineStatus s;
  s.frozen = freeze_.frozen();
  s.freeze_reasons = freeze_.reasons();
  s.ticks = ticks_;
  s.frozen_ticks = frozen_ticks_;
  s.freezes = freeze_.freezes();
  s.latency_events = latency_events_;
  s.event_plans = event_plans_;
  for (const Controller* c : controllers_) {
    s.controllers.push_back(
        ControllerStatus{std::string(c->name()), std::string(c->state()), c->stateJson()});
  }
  return s;
}

nlohmann::json Engine::statusJson() const {
  EngineStatus s = status();
  nlohmann::json controllers = nlohmann::json::array();
  for (const auto& c : s.controllers) {
    nlohmann::json j = c.detail;
    j["name"] = c.name;
    j["state"] = c.state;
    controllers.push_back(std::move(j));
  }
  nlohmann::json j{{"frozen", s.frozen},
                   {"freeze", freeze_.toJson()},
                   {"ticks", s.ticks},
                   {"frozen_ticks", s.frozen_ticks},
                   {"latency_events", s.latency_events},
                   {"event_plans", s.event_plans},
                   {"controllers", controllers},
                   {"pools", pools_.toJson()}};
  if (last_plan_) {
    j["be_cpus"] = last_plan_->be_cpus;
    j["reasons"] = last_plan_->reasons;
  }
  return j;
}

nlohmann::json Engine::nodeJson() const {
  nlohmann::json j{{"frozen", freeze_.frozen()},
                   {"freeze_reasons", freeze_.reasons()},
                   {"capacity", capacity().toJson()},
                   {"pools", pools_.toJson()}};
  if (last_plan_) {
    j["be_cpus"] = last_plan_->be_cpus;
    j["be_quota_cores"] =
        last_plan_->be_quota_cores ? nlohmann::json(*last_plan_->be_quota_cores) : nlohmann::json();
    j["be_memory_high_bytes"] = last_plan_->be_memory_high_bytes
                                    ? nlohmann::json(*last_plan_->be_memory_high_bytes)
                                    : nlohmann::json();
  }
  return j;
}

std::string Engine::prometheusText() const {
  std::string out;
  const BeCapacity& cap = capacity();
  gauge(out, "colo_be_cpu_millicores", "BE CPU capacity published to the scheduler (millicores)",
        static_cast<double>(cap.be_cpu_millicores));
  gauge(out, "colo_be_memory_bytes", "BE memory capacity published to the scheduler (bytes)",
        static_cast<double>(cap.be_memory_bytes));
  gauge(out, "colo_ot_cpu_millicores", "BE overcommit CPU capacity (millicores)",
        static_cast<double>(cap.ot_cpu_millicores));
  out +=
      "# HELP colo_be_capacity_term One term of the BE capacity formula (see /v1/node)\n"
      "# TYPE colo_be_capacity_term gauge\n";
  for (const auto& [term, value] : cap.terms()) {
    out += fmt::format("colo_be_capacity_term{{term=\"{}\"}} {}\n", term, value);
  }
  gauge(out, "colo_policy_frozen", "1 while the policy engine is frozen (changes nothing)",
        freeze_.frozen() ? 1 : 0);
  out +=
      "# HELP colo_policy_freeze_reason Why the engine is frozen, one series per reason\n"
      "# TYPE colo_policy_freeze_reason gauge\n";
  for (const auto& r : freeze_.reasons()) {
    out += fmt::format("colo_policy_freeze_reason{{reason=\"{}\"}} 1\n", escapeLabel(r));
  }
  out +=
      "# HELP colo_policy_freezes_total Times the engine entered the frozen state\n"
      "# TYPE colo_policy_freezes_total counter\n";
  out += fmt::format("colo_policy_freezes_total {}\n", freeze_.freezes());
  out +=
      "# HELP colo_policy_ticks_total Snapshots the engine was given\n"
      "# TYPE colo_policy_ticks_total counter\n";
  out += fmt::format("colo_policy_ticks_total {}\n", ticks_);
  gauge(out, "colo_policy_be_cpus", "CPUs in the BE cpuset of the plan in force",
        last_plan_ ? static_cast<double>(last_plan_->be_cpus.size()) : 0);
  out +=
      "# HELP colo_policy_controller_state Controller state (1 for the current state)\n"
      "# TYPE colo_policy_controller_state gauge\n";
  for (const Controller* c : controllers_) {
    out += fmt::format("colo_policy_controller_state{{controller=\"{}\",state=\"{}\"}} 1\n",
                       c->name(), c->state());
  }
  out +=
      "# HELP colo_policy_controller_gauge Controller figures (see /v1/controllers)\n"
      "# TYPE colo_policy_controller_gauge gauge\n";
  for (const Controller* c : controllers_) {
    for (const auto& [name, value] : c->gauges()) {
      out += fmt::format("colo_policy_controller_gauge{{controller=\"{}\",name=\"{}\"}} {}\n",
                         c->name(), name, value);
    }
  }
  return out;
}

}  // namespace colo::policy
