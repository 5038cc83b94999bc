#include "agent/enforcer.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>

#include "common/log.h"

namespace colo::agent {
namespace {

constexpr std::string_view kComponent = "enforcer";

int64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool sameCgroups(const std::vector<kmods::PlanCgroup>& a, const std::vector<kmods::PlanCgroup>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].cgroup != b[i].cgroup || a[i].pod_cgroup != b[i].pod_cgroup ||
        a[i].tier != b[i].tier) {
      return false;
    }
  }
  return true;
}

bool samePools(const kmods::CpuPools& a, const kmods::CpuPools& b) {
  return a.lsx == b.lsx && a.lsr == b.lsr && a.shared == b.shared && a.be == b.be;
}

void counter(std::string& out, std::string_view name, std::string_view help, double v) {
  out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
}

void gauge(std::string& out, std::string_view name, std::string_view help, double v) {
  out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
}

}  // namespace

bool samePlan(const kmods::EnforcementPlan& a, const kmods::EnforcementPlan& b) {
  return sameCgroups(a.cgroups, b.cgroups) && samePools(a.pools, b.pools) &&
         a.be_cpus == b.be_cpus && a.be_quota_cores == b.be_quota_cores &&
         a.ls_burst_us == b.ls_burst_us && a.ls_limit_cores == b.ls_limit_cores &&
         a.be_memory_high_bytes == b.be_memory_high_bytes &&
         a.be_task_slice_ns == b.be_task_slice_ns;
}

Enforcer::Enforcer(EnforcerOptions options, kmods::KernelFeatures features, FileSystem& fs)
    : options_(std::move(options)),
      fs_(fs),
      features_(std::move(features)),
      sampler_(fs, options_.proc_root, options_.sys_root) {}

Enforcer::~Enforcer() = default;

Result<std::unique_ptr<Enforcer>> Enforcer::create(EnforcerOptions options,
                                                   kmods::KernelFeatures features, FileSystem& fs) {
  auto engine = policy::Engine::create(options.policy);
  if (!engine) {
    return fail(engine.error());
  }
  std::unique_ptr<Enforcer> e(new Enforcer(std::move(options), std::move(features), fs));
  e->engine_ = std::move(*engine);
  // Even a dry run opens the executor: a crashed enforcing colod's knobs are restored first.
  auto ex = executor::Executor::open(fs, e->options_.executor);
  if (!ex) {
    return fail(ex.error().wrap(fmt::format(
        "state_dir {}: open the executor journal (is another colod running? set state_dir or "
        "--state_dir to a writable directory)",
        e->options_.executor.state_dir)));
  }
  e->executor_ = std::move(*ex);
  auto rec = e->executor_->reconcile();
  if (!rec) {
    return fail(rec.error().wrap("reconcile the executor journal"));
  }
  e->reconcile_ = *rec;
  if (rec->had_crashed_run) {
    log::warn(kComponent,
              "the previous colod did not stop cleanly: restored {} knobs ({} already right, {} "
              "vanished, {} errors)",
              rec->restored, rec->already, rec->vanished, rec->errors.size());
    for (const auto& err : rec->errors) {
      log::warn(kComponent, "reconcile: {}", err);
    }
  }
  if (e->features_.sched_slice_default_ns != 0) {
    kmods::TaskSlicerOptions so;
    so.state_file = joinPath(e->options_.executor.state_dir, "task-slices");
    so.tasks_file = e->features_.cpu_hierarchy == "v2" ? "cgroup.threads" : "tasks";
    so.default_slice_ns = e->features_.sched_slice_default_ns;
    e->slicer_ = std::make_unique<kmods::TaskSlicer>(std::move(so), fs, kmods::realSchedOps());
    // Like the journal: a crashed run's task slices come back even on a dry run.
    e->slice_reconcile_ = e->slicer_->reconcile();
    if (e->slice_reconcile_.restored > 0 || !e->slice_reconcile_.errors.empty()) {
      log::warn(kComponent, "reconcile: {} BE tasks back at the default slice ({} errors{}{})",
                e->slice_reconcile_.restored, e->slice_reconcile_.errors.size(),
                e->slice_reconcile_.errors.empty() ? "" : ", first: ",
                e->slice_reconcile_.errors.empty() ? "" : e->slice_reconcile_.errors.front());
    }
    e->slice_status_ = e->slicer_->status();
  }
  if (!e->options_.enforce) {
    log::info(kComponent, "enforce: false: the policy engine runs dry (no cgroup writes)");
    e->slicer_.reset();
    return e;
  }
  e->backend_ = std::make_unique<kmods::Backend>(e->features_, fs, *e->executor_);
  log::info(kComponent, "enforcing on cgroup {} (cpu.idle {}, cpuset {}, quota {}), journal {}",
            e->features_.cpu_hierarchy, e->features_.cpu_idle ? "yes" : "no",
            e->features_.cpuset ? "yes" : "no", e->features_.cpu_quota ? "yes" : "no",
            e->executor_->journalFile());
  return e;
}

bool Enforcer::apply(const kmods::EnforcementPlan& plan, bool from_event) {
  if (!backend_) {
    return true;
  }
  kmods::ApplyReport r = backend_->apply(plan);
  std::lock_guard<std::mutex> lock(mu_);
  ++applies_;
  if (from_event) {
    ++event_applies_;
  }
  last_warnings_ = r.warnings;
  bool good = r.failed == 0 && !r.stopped;
  if (!r.errors.empty()) {
    ++apply_failures_;
    last_errors_ = r.errors;
    static log::RateLimit rl(std::chrono::seconds(10));
    if (rl.allow()) {
      log::warn(kComponent, "apply: {} of {} writes failed: {}", r.failed, r.planned,
                r.errors.front());
    }
  }
  if (good) {
    applied_ = plan;
  } else {
    applied_.reset();  // retry the whole plan at the next tick
  }
  return good;
}

void Enforcer::onTick(const Snapshot& snap, const AgentStats& stats, int64_t now_ns) {
  NodeSampler::Reading node = sampler_.sample(now_ns, &signals_);
  // cgroup-stats: failed container reads this tick (a vanished cgroup is not a failure).
  if (stats.read_errors > last_read_errors_) {
    signals_.failed("cgroup-stats", now_ns);
  } else {
    signals_.ok("cgroup-stats", now_ns);
  }
  last_read_errors_ = stats.read_errors;
  if (snap.health_problem.empty()) {
    signals_.ok("bpf-stats", now_ns);
  } else {
    signals_.failed("bpf-stats", now_ns);
  }
  policy::NodeSnapshot& ns = node_snapshot_;  // rebuilt in place each tick
  fillNodeSnapshot(snap, node, signals_.health(now_ns), now_ns, &ns);
  ns.latency_events.swap(pending_events_);
  pending_events_.clear();
  ns.be_idle_class = false;
  ns.cgroupfs_writable = true;
  ns.cgroupfs_error.clear();
  if (backend_) {
    // The backend writes cpu.idle=1 on every BE pod where the kernel has it.
    ns.be_idle_class = features_.cpu_idle;
    executor::Health h = executor_->health();
    ns.cgroupfs_writable = executor_->writable();
    if (!ns.cgroupfs_writable) {
      ns.cgroupfs_error = h.reason.empty() ? h.last_error : h.reason;
    }
  }
  bool have_plan = false;
  bool reapply = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const kmods::EnforcementPlan* plan = engine_->onTick(ns);
    have_plan = plan != nullptr;
    reapply = !plan || !applied_ || !samePlan(*plan, *applied_) ||
              now_ns - applied_at_ns_ >= options_.reapply_interval_ns;
    if (plan && reapply) {
      applied_at_ns_ = now_ns;
      tick_plan_ = *plan;  // copied into the storage of the last one: no allocation
    }
  }
  if (!have_plan) {
    // Frozen: nothing is written. A frozen executor thaws by a probe write; give it one per
    // tick by re-applying the last plan (it refuses all but its probe).
    if (backend_ && !executor_->writable()) {
      std::optional<kmods::EnforcementPlan> last;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last = engine_->lastPlan();
      }
      if (last) {
        apply(*last, false);
      }
    }
    return;
  }
  if (reapply) {
    apply(tick_plan_, false);
  }
  if (slicer_ && (reapply || now_ns >= slicer_->nextScanNs())) {
    applySlices(tick_plan_, reapply, now_ns);
  }
}

void Enforcer::applySlices(const kmods::EnforcementPlan& plan, bool changed, int64_t now_ns) {
  if (changed) {
    slice_dirs_.clear();
    // Slices off (the default): the empty list only lets the slicer hand back what it holds.
    auto root = features_.mounts.mountFor("cpu");
    if (plan.be_task_slice_ns != 0 && root) {
      for (const auto& c : plan.cgroups) {
        if (c.tier == kmods::PlanTier::kBE) {
          slice_dirs_.push_back(joinPath(*root, c.cgroup));
        }
      }
    }
    std::sort(slice_dirs_.begin(), slice_dirs_.end());
  }
  kmods::TaskSliceCounts c = slicer_->apply(slice_dirs_, plan.be_task_slice_ns, now_ns);
  if (!c.errors.empty()) {
    static log::RateLimit rl(std::chrono::seconds(10));
    if (rl.allow()) {
      log::warn(kComponent, "BE task slices: {} errors, first: {}", c.errors.size(),
                c.errors.front());
    }
  }
  kmods::TaskSliceStatus st = slicer_->status();
  std::lock_guard<std::mutex> lock(mu_);
  slice_status_ = std::move(st);
}

void Enforcer::onLatencyEvent(const bpf::LatencyEvent& event, int64_t now_ns) {
  if (event.tier == bpf::Tier::kNone || event.tier == bpf::Tier::kBE) {
    return;
  }
  auto tier = static_cast<policy::Tier>(static_cast<uint8_t>(event.tier));
  pending_events_.push_back(
      policy::LatencyEvent{tier, event.delay_ns, static_cast<int64_t>(event.timestamp_ns)});
  if (pending_events_.size() > 4096) {
    pending_events_.erase(pending_events_.begin(), pending_events_.begin() + 2048);
  }
  std::optional<kmods::EnforcementPlan> plan;
  {
    std::lock_guard<std::mutex> lock(mu_);
    plan = engine_->onLatencyEvent(tier, event.delay_ns, now_ns);
  }
  if (!plan) {
    return;
  }
  bool good = apply(*plan, true);
  // Every write of the plan has been verified when apply returns: the squeeze is in force.
  double reaction_s =
      static_cast<double>(monotonicNs() - static_cast<int64_t>(event.timestamp_ns)) / 1e9;
  std::lock_guard<std::mutex> lock(mu_);
  if (good && backend_) {
    reaction_last_s_ = reaction_s;
    ++reaction_count_;
    reaction_sum_s_ += reaction_s;
    for (size_t i = 0; i < kReactionBuckets.size(); ++i) {
      if (reaction_s <= kReactionBuckets[i]) {
        ++reaction_buckets_[i];
      }
    }
    log::info(kComponent, "latency guard: BE squeezed to cpus {} {:.1f} ms after the {} event",
              fmt::join(plan->be_cpus, ","), reaction_s * 1e3, policy::tierName(tier));
  }
}

Status Enforcer::shutdown() {
  if (!executor_) {
    return ok();
  }
  std::string slice_error;
  if (slicer_) {
    kmods::TaskSliceCounts c = slicer_->restoreAll();
    log::info(kComponent, "shutdown: {} BE tasks back at the default slice", c.restored);
    if (!c.errors.empty()) {
      slice_error = c.errors.front();
    }
  }
  executor::RestoreReport r = executor_->restoreAll("colod shutdown");
  log::info(kComponent, "shutdown: restored {} knobs ({} already right, {} vanished)", r.restored,
            r.already, r.vanished);
  if (!r.ok()) {
    return failInvalid(fmt::format("restore on shutdown: {} knobs failed, first: {}",
                                   r.errors.size(), r.errors.front()));
  }
  if (!slice_error.empty()) {
    return failInvalid("restore BE task slices on shutdown: " + slice_error);
  }
  return ok();
}

nlohmann::json Enforcer::controllersJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json j = engine_->statusJson();
  j["enforce"] = backend_ != nullptr;
  if (executor_) {
    executor::Health h = executor_->health();
    j["executor"] = {{"writes", h.writes},
                     {"unchanged", h.unchanged},
                     {"failures", h.failures},
                     {"rollbacks", h.rollbacks},
                     {"rate_limited", h.rate_limited},
                     {"vanished", h.vanished},
                     {"frozen", h.frozen},
                     {"reason", h.reason},
                     {"last_error", h.last_error},
                     {"journal", executor_->journalFile()}};
  } else {
    j["executor"] = nullptr;
  }
  j["reconcile"] = {{"had_crashed_run", reconcile_.had_crashed_run},
                    {"restored", reconcile_.restored},
                    {"already", reconcile_.already},
                    {"vanished", reconcile_.vanished},
                    {"errors", reconcile_.errors}};
  if (features_.sched_slice_default_ns != 0) {
    const kmods::TaskSliceStatus& t = slice_status_;
    j["task_slice"] = {{"slice_ns", t.slice_ns},
                       {"kernel_default_ns", features_.sched_slice_default_ns},
                       {"cgroups", t.cgroups},
                       {"tasks", t.tasks},
                       {"set", t.total.set},
                       {"restored", t.total.restored},
                       {"custom_kept", t.total.custom},
                       {"vanished", t.total.vanished},
                       {"scans", t.scans},
                       {"failed", t.total.failed},
                       {"errors", t.total.errors},
                       {"reconciled", slice_reconcile_.restored}};
  } else {
    j["task_slice"] = nullptr;  // the kernel takes no custom slices (Linux < 6.12)
  }
  j["applies"] = applies_;
  j["event_applies"] = event_applies_;
  j["apply_failures"] = apply_failures_;
  j["last_apply_errors"] = last_errors_;
  j["last_apply_warnings"] = last_warnings_;
  j["guard_reaction_seconds"] =
      reaction_last_s_ < 0 ? nlohmann::json() : nlohmann::json(reaction_last_s_);
  return j;
}

nlohmann::json Enforcer::nodeJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json j = engine_->nodeJson();
  j["enforce"] = backend_ != nullptr;
  j["backend"] = {{"cpu_hierarchy", features_.cpu_hierarchy},
                  {"cpu_idle", features_.cpu_idle},
                  {"cpuset", features_.cpuset},
                  {"cpu_quota", features_.cpu_quota},
                  {"group_identity", features_.group_identity}};
  return j;
}

nlohmann::json Enforcer::profilesJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  return engine_->profilesJson();
}

std::string Enforcer::metricsText() const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = engine_->prometheusText();
    gauge(out, "colo_enforce", "1 when colod writes cgroup knobs (enforce: true)",
          backend_ ? 1 : 0);
    counter(out, "colo_enforcer_applies_total", "Plans handed to the backend",
            static_cast<double>(applies_));
    counter(out, "colo_enforcer_event_applies_total",
            "Plans applied from a ring-buffer latency event (between ticks)",
            static_cast<double>(event_applies_));
    counter(out, "colo_enforcer_apply_failures_total", "Plans with at least one failed write",
            static_cast<double>(apply_failures_));
    out +=
        "# HELP colo_guard_reaction_seconds Latency event (BPF timestamp) to the BE squeeze "
        "verified in cgroupfs\n# TYPE colo_guard_reaction_seconds histogram\n";
    for (size_t i = 0; i < kReactionBuckets.size(); ++i) {
      out += fmt::format("colo_guard_reaction_seconds_bucket{{le=\"{}\"}} {}\n",
                         kReactionBuckets[i], reaction_buckets_[i]);
    }
    out += fmt::format("colo_guard_reaction_seconds_bucket{{le=\"+Inf\"}} {}\n", reaction_count_);
    out += fmt::format("colo_guard_reaction_seconds_sum {}\n", reaction_sum_s_);
    out += fmt::format("colo_guard_reaction_seconds_count {}\n", reaction_count_);
    if (reaction_last_s_ >= 0) {
      gauge(out, "colo_guard_reaction_last_seconds", "Reaction time of the last event squeeze",
            reaction_last_s_);
    }
    if (slicer_) {
      const kmods::TaskSliceStatus& t = slice_status_;
      gauge(out, "colo_task_slice_tasks", "BE tasks kept at colo's EEVDF slice",
            static_cast<double>(t.tasks));
      gauge(out, "colo_task_slice_ns", "EEVDF slice given to BE tasks (0: off)",
            static_cast<double>(t.slice_ns));
      counter(out, "colo_task_slice_set_total", "BE tasks given colo's slice",
              static_cast<double>(t.total.set));
      counter(out, "colo_task_slice_restored_total", "BE tasks put back to the default slice",
              static_cast<double>(t.total.restored + slice_reconcile_.restored));
      counter(out, "colo_task_slice_custom_total",
              "Tasks left alone: a slice someone else set, or not a fair task",
              static_cast<double>(t.total.custom));
      counter(out, "colo_task_slice_errors_total", "Failed sched_getattr/sched_setattr calls",
              static_cast<double>(t.total.failed));
    }
  }
  if (executor_) {
    executor::Health h = executor_->health();
    counter(out, "colo_executor_writes_total", "Verified cgroup writes",
            static_cast<double>(h.writes));
    counter(out, "colo_executor_unchanged_total", "Writes skipped: the knob had the value",
            static_cast<double>(h.unchanged));
    counter(out, "colo_executor_failures_total", "Failed cgroup writes (rolled back)",
            static_cast<double>(h.failures));
    counter(out, "colo_executor_rollbacks_total", "Writes undone after a failure",
            static_cast<double>(h.rollbacks));
    counter(out, "colo_executor_rate_limited_total", "Writes refused by the rate limit",
            static_cast<double>(h.rate_limited));
    counter(out, "colo_executor_vanished_total", "Writes whose cgroup was gone",
            static_cast<double>(h.vanished));
    gauge(out, "colo_executor_frozen", "1 while the executor refuses writes", h.frozen ? 1 : 0);
  }
  return out;
}

}  // namespace colo::agent
