#include "kmods-free/backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "agent/executor/knob_value.h"

namespace colo::kmods {
namespace {

using executor::formatCpuList;
using executor::parseCpuList;
using CpuSet = std::set<int>;

std::string_view baseName(std::string_view p) {
  while (!p.empty() && p.back() == '/') {
    p.remove_suffix(1);
  }
  auto pos = p.rfind('/');
  return pos == std::string_view::npos ? p : p.substr(pos + 1);
}

std::string parentOf(const std::string& p) {
  auto pos = p.rfind('/');
  return pos == std::string::npos || pos == 0 ? "/" : p.substr(0, pos);
}

std::string podOf(const PlanCgroup& c) { return c.pod_cgroup.empty() ? c.cgroup : c.pod_cgroup; }

std::string_view tierName(PlanTier t) {
  switch (t) {
    case PlanTier::kBE:
      return "BE";
    case PlanTier::kLS:
      return "LS";
    case PlanTier::kLSR:
      return "LSR";
    case PlanTier::kLSX:
      return "LSX";
  }
  return "?";
}

int64_t readInt(const FileSystem& fs, const std::string& path, int64_t fallback) {
  auto v = fs.readFile(path);
  if (!v) {
    return fallback;
  }
  std::string_view s(*v);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.remove_suffix(1);
  }
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() ? out : fallback;
}

// v2 cpu.max: "<quota|max> <period>" -> period (100000 when unknown).
int64_t v2Period(const FileSystem& fs, const std::string& cg_path) {
  auto v = fs.readFile(joinPath(cg_path, "cpu.max"));
  if (v) {
    auto sp = v->find(' ');
    if (sp != std::string::npos) {
      int64_t p = 0;
      std::string_view rest(v->data() + sp + 1, v->size() - sp - 1);
      while (!rest.empty() && rest.back() == '\n') {
        rest.remove_suffix(1);
      }
      auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), p);
      if (ec == std::errc() && p > 0) {
        return p;
      }
    }
  }
  return 100000;
}

CpuSet toSet(const std::vector<int>& v) { return CpuSet(v.begin(), v.end()); }

CpuSet minus(CpuSet a, const CpuSet& b) {
  for (int c : b) {
    a.erase(c);
  }
  return a;
}

// Where BE-wide caps go: kubelet's besteffort QoS directory when every BE pod sits in it (the
// cap covers them together), otherwise each BE pod gets an equal share.
struct CapTarget {
  std::string cgroup;
  double share = 1.0;
};

std::vector<CapTarget> beCapTargets(const EnforcementPlan& plan) {
  std::vector<std::string> pods;
  for (const auto& c : plan.cgroups) {
    if (c.tier == PlanTier::kBE) {
      std::string p = podOf(c);
      if (std::find(pods.begin(), pods.end(), p) == pods.end()) {
        pods.push_back(p);
      }
    }
  }
  if (pods.empty()) {
    return {};
  }
  std::string parent = parentOf(pods.front());
  bool common = std::all_of(pods.begin(), pods.end(),
                            [&](const std::string& p) { return parentOf(p) == parent; });
  if (common && baseName(parent).find("besteffort") != std::string_view::npos) {
    return {CapTarget{parent, 1.0}};
  }
  std::vector<CapTarget> out;
  for (const auto& p : pods) {
    out.push_back(CapTarget{p, 1.0 / static_cast<double>(pods.size())});
  }
  return out;
}

}  // namespace

bool isKubeletQosDir(std::string_view cgroup) {
  std::string_view name = baseName(cgroup);
  if (name.empty()) {
    return true;  // the hierarchy root
  }
  for (std::string_view q :
       {"kubepods", "besteffort", "burstable", "guaranteed", "kubepods.slice",
        "kubepods-besteffort.slice", "kubepods-burstable.slice", "kubepods-guaranteed.slice"}) {
    if (name == q) {
      return true;
    }
  }
  return false;
}

PlanWrites planWrites(const EnforcementPlan& plan, const KernelFeatures& f, const FileSystem& fs) {
  PlanWrites out;
  auto add = [&](std::string path, std::string value, std::string reason) {
    out.writes.push_back(KnobWrite{std::move(path), std::move(value), std::move(reason)});
  };
  auto cpu_root = f.mounts.mountFor("cpu");
  auto cpuset_root = f.mounts.mountFor("cpuset");
  auto mem_root = f.mounts.mountFor("memory");
  auto is_v2 = [&](const std::optional<std::string>& root) {
    return root && *root == f.mounts.unified;
  };

  // Pods in plan order with their tier: a pod mixing tiers is treated as its highest tier, so
  // an LS container never ends up inside an idle pod.
  std::vector<std::string> pod_order;
  std::map<std::string, PlanTier> pod_tier;
  std::map<std::string, const PlanCgroup*> by_id;
  for (const auto& c : plan.cgroups) {
    by_id[c.id] = &c;
    std::string p = podOf(c);
    auto [it, inserted] = pod_tier.emplace(p, c.tier);
    if (inserted) {
      pod_order.push_back(p);
    } else if (static_cast<int>(c.tier) > static_cast<int>(it->second)) {
      it->second = c.tier;
    }
  }

  // --- cpu controller: who yields to whom -------------------------------------------------
  if (cpu_root) {
    bool v2 = is_v2(cpu_root);
    for (const auto& pod : pod_order) {
      PlanTier tier = pod_tier[pod];
      std::string dir = joinPath(*cpu_root, pod);
      if (tier == PlanTier::kBE) {
        if (isKubeletQosDir(pod)) {
          out.warnings.push_back("BE cgroup " + pod +
                                 " is a kubelet QoS directory: cpu.idle/weight not set there "
                                 "(kubelet must keep writing its cpu.shares)");
          continue;
        }
        if (f.cpu_idle) {
          add(joinPath(dir, "cpu.idle"), "1", "BE pod: cpu.idle=1, SCHED_IDLE against LS");
        } else if (v2 && f.cpu_weight) {
          add(joinPath(dir, "cpu.weight"), "1", "BE pod: minimum cpu.weight (no cpu.idle here)");
        } else if (f.cpu_weight) {
          add(joinPath(dir, "cpu.shares"), "2", "BE pod: minimum cpu.shares (no cpu.idle here)");
        }
      }
      if (f.group_identity && !isKubeletQosDir(pod)) {
        bool be = tier == PlanTier::kBE;
        add(joinPath(dir, "cpu.bvt_warp_ns"), be ? "-1" : "2",
            fmt::format("{} pod: group identity {}", tierName(tier), be ? -1 : 2));
      }
    }

    // BE hard cap: quota only as a cap (throttling BE worsens LS tail latency; see README).
    if (plan.be_quota_cores && f.cpu_quota) {
      for (const auto& t : beCapTargets(plan)) {
        std::string dir = joinPath(*cpu_root, t.cgroup);
        double cores = *plan.be_quota_cores * t.share;
        std::string reason = fmt::format("BE hard cap {:.2f} cores", cores);
        if (v2) {
          int64_t period = v2Period(fs, dir);
          auto quota = std::max<int64_t>(1000, std::llround(cores * static_cast<double>(period)));
          add(joinPath(dir, "cpu.max"), fmt::format("{} {}", quota, period), reason);
        } else {
          int64_t period = readInt(fs, joinPath(dir, "cpu.cfs_period_us"), 100000);
          auto quota = std::max<int64_t>(1000, std::llround(cores * static_cast<double>(period)));
          add(joinPath(dir, "cpu.cfs_quota_us"), std::to_string(quota), reason);
        }
      }
    }

    // LS throttle relief: a raised limit (pod first: v1 wants child quota <= parent quota) and
    // burst. v1 also wants burst <= quota, so when a container's quota comes down its burst is
    // written first.
    std::map<std::string, std::vector<KnobWrite>> limit_writes;
    std::map<std::string, KnobWrite> burst_writes;
    std::map<std::string, bool> quota_lowered;
    for (const auto& [id, cores] : plan.ls_limit_cores) {
      auto it = by_id.find(id);
      if (it == by_id.end() || it->second->tier == PlanTier::kBE || !f.cpu_quota) {
        continue;
      }
      const PlanCgroup& c = *it->second;
      auto& lw = limit_writes[id];
      std::string dir = joinPath(*cpu_root, c.cgroup);
      std::string reason = fmt::format("LS limit raised to {:.2f} cores", cores);
      if (!c.pod_cgroup.empty() && c.pod_cgroup != c.cgroup) {
        std::string pod_dir = joinPath(*cpu_root, c.pod_cgroup);
        if (v2) {
          lw.push_back({joinPath(pod_dir, "cpu.max"), fmt::format("max {}", v2Period(fs, pod_dir)),
                        reason + " (pod limit lifted; the container limits still bound it)"});
        } else if (readInt(fs, joinPath(pod_dir, "cpu.cfs_quota_us"), -1) >= 0) {
          lw.push_back({joinPath(pod_dir, "cpu.cfs_quota_us"), "-1",
                        reason + " (pod limit lifted; the container limits still bound it)"});
        }
      }
      if (v2) {
        int64_t period = v2Period(fs, dir);
        lw.push_back(
            {joinPath(dir, "cpu.max"),
             fmt::format("{} {}", std::llround(cores * static_cast<double>(period)), period),
             reason});
      } else {
        int64_t period = readInt(fs, joinPath(dir, "cpu.cfs_period_us"), 100000);
        int64_t quota = std::llround(cores * static_cast<double>(period));
        int64_t cur = readInt(fs, joinPath(dir, "cpu.cfs_quota_us"), -1);
        quota_lowered[id] = cur < 0 || quota < cur;
        lw.push_back({joinPath(dir, "cpu.cfs_quota_us"), std::to_string(quota), reason});
      }
    }
    for (const auto& [id, burst_us] : plan.ls_burst_us) {
      auto it = by_id.find(id);
      if (it == by_id.end() || it->second->tier == PlanTier::kBE) {
        continue;
      }
      if (!f.cpu_burst) {
        out.warnings.push_back("burst for " + id + " not applied: no cpu burst on this kernel");
        continue;
      }
      std::string dir = joinPath(*cpu_root, it->second->cgroup);
      uint64_t burst = burst_us;
      std::string reason = fmt::format("LS burst {} us per period", burst_us);
      if (v2) {
        burst_writes[id] = {joinPath(dir, "cpu.max.burst"), std::to_string(burst), reason};
      } else {
        // The kernel refuses a burst above the quota.
        int64_t quota = readInt(fs, joinPath(dir, "cpu.cfs_quota_us"), -1);
        if (auto lim = plan.ls_limit_cores.find(id); lim != plan.ls_limit_cores.end()) {
          quota = std::llround(lim->second * static_cast<double>(readInt(
                                                 fs, joinPath(dir, "cpu.cfs_period_us"), 100000)));
        }
        if (quota > 0 && burst > static_cast<uint64_t>(quota)) {
          burst = static_cast<uint64_t>(quota);
        }
        burst_writes[id] = {joinPath(dir, "cpu.cfs_burst_us"), std::to_string(burst), reason};
      }
    }
    for (const auto& c : plan.cgroups) {
      auto lw = limit_writes.find(c.id);
      auto bw = burst_writes.find(c.id);
      bool burst_first = bw != burst_writes.end() && quota_lowered[c.id];
      if (burst_first) {
        out.writes.push_back(bw->second);
      }
      if (lw != limit_writes.end()) {
        out.writes.insert(out.writes.end(), lw->second.begin(), lw->second.end());
      }
      if (bw != burst_writes.end() && !burst_first) {
        out.writes.push_back(bw->second);
      }
    }
  }

  // --- cpusets: pools -----------------------------------------------------------------------
  const CpuPools& pools = plan.pools;
  bool manage_ls = !pools.lsx.empty() || !pools.lsr.empty() || !pools.shared.empty();
  if (cpuset_root && f.cpuset && (manage_ls || !plan.be_cpus.empty())) {
    bool v2 = is_v2(cpuset_root);
    CpuSet all;
    auto all_text =
        fs.readFile(joinPath(*cpuset_root, v2 ? "cpuset.cpus.effective" : "cpuset.cpus"));
    if (!all_text || !parseCpuList(*all_text, &all) || all.empty()) {
      out.warnings.push_back("cannot read the root cpuset: cpusets not managed");
    } else {
      CpuSet lsx = toSet(pools.lsx);
      CpuSet lsr = toSet(pools.lsr);
      CpuSet shared = toSet(pools.shared);
      CpuSet be_pool = toSet(pools.be);
      CpuSet ls_set = shared;
      if (ls_set.empty()) {
        ls_set = minus(minus(minus(all, lsx), lsr), be_pool);
      }
      if (ls_set.empty()) {
        ls_set = minus(all, lsx);
      }
      CpuSet lsr_set = lsr.empty() ? ls_set : lsr;
      CpuSet be_set = minus(toSet(plan.be_cpus), lsx);
      if (be_set.size() != plan.be_cpus.size()) {
        out.warnings.push_back("be_cpus overlapped the LSX pool: LSX cores removed from BE");
      }
      // Container targets, then pod targets as the union of their containers'.
      struct ContainerCpus {
        std::string cgroup;
        CpuSet cpus;
        std::string reason;
      };
      std::vector<ContainerCpus> containers;
      std::map<std::string, CpuSet> pods;
      std::vector<std::string> pod_list;
      for (const auto& c : plan.cgroups) {
        CpuSet target;
        switch (c.tier) {
          case PlanTier::kLSX:
            target = lsx;
            break;
          case PlanTier::kLSR:
            target = manage_ls ? lsr_set : CpuSet{};
            break;
          case PlanTier::kLS:
            target = manage_ls ? ls_set : CpuSet{};
            break;
          case PlanTier::kBE:
            target = be_set;
            break;
        }
        if (target.empty()) {
          if (c.tier == PlanTier::kBE && !plan.be_cpus.empty()) {
            out.warnings.push_back("BE cpuset for " + c.id + " would be empty: left as is");
          }
          continue;
        }
        static constexpr const char* kReasons[] = {"", "BE: the cpus BE may use now",
                                                   "LS: shared pool", "LSR: reserved cores",
                                                   "LSX: exclusive cores"};
        containers.push_back({c.cgroup, target, kReasons[static_cast<int>(c.tier)]});
        if (!c.pod_cgroup.empty() && c.pod_cgroup != c.cgroup) {
          if (pods.count(c.pod_cgroup) == 0) {
            pod_list.push_back(c.pod_cgroup);
          }
          pods[c.pod_cgroup].insert(target.begin(), target.end());
        }
      }
      // v2: an empty cpuset.cpus follows the parent's CPUs, and the kernel refuses to empty it
      // again while the cgroup holds tasks; what such a cgroup runs on is its
      // cpuset.cpus.effective. `inherits` is set when the file is empty.
      auto current = [&](const std::string& cg, bool* inherits = nullptr) {
        CpuSet s;
        std::string dir = joinPath(*cpuset_root, cg);
        auto v = fs.readFile(joinPath(dir, "cpuset.cpus"));
        bool empty = v && v->find_first_not_of(" \t\n") == std::string::npos;
        if (inherits != nullptr) {
          *inherits = v2 && empty;
        }
        if (v2 && empty) {
          v = fs.readFile(joinPath(dir, "cpuset.cpus.effective"));
        }
        if (v) {
          parseCpuList(*v, &s);
        }
        return s;
      };
      // A v2 cgroup that inherits exactly `cpus` is left alone: writing them would change
      // nothing now and could not be undone (see current()).
      auto inheritsExactly = [&](const std::string& cg, const CpuSet& cpus) {
        bool inherits = false;
        return v2 && current(cg, &inherits) == cpus && inherits;
      };
      // Phase A, parents first: widen each pod to (current | target) so its children can move.
      for (const auto& pod : pod_list) {
        CpuSet cur = current(pod);
        CpuSet wide = cur;
        wide.insert(pods[pod].begin(), pods[pod].end());
        if (wide != cur) {
          add(joinPath(joinPath(*cpuset_root, pod), "cpuset.cpus"), formatCpuList(wide),
              "pod cpuset widened before its containers move");
        }
      }
      // Phase B, children first: containers to their pools, then pods narrowed to the union.
      for (const auto& c : containers) {
        if (inheritsExactly(c.cgroup, c.cpus)) {
          continue;
        }
        add(joinPath(joinPath(*cpuset_root, c.cgroup), "cpuset.cpus"), formatCpuList(c.cpus),
            c.reason);
      }
      for (const auto& pod : pod_list) {
        if (inheritsExactly(pod, pods[pod])) {
          continue;
        }
        add(joinPath(joinPath(*cpuset_root, pod), "cpuset.cpus"), formatCpuList(pods[pod]),
            "pod cpuset: union of its containers");
      }
      // v2: an LSX cgroup directly under a partition root may become a partition of its own.
      if (v2 && f.cpuset_partition) {
        for (const auto& c : plan.cgroups) {
          if (c.tier != PlanTier::kLSX || lsx.empty()) {
            continue;
          }
          std::string parent = parentOf(joinPath(*cpuset_root, podOf(c)));
          auto part = fs.readFile(joinPath(parent, "cpuset.cpus.partition"));
          bool parent_is_root = parent == *cpuset_root || (part && part->starts_with("root"));
          if (parent_is_root && !isKubeletQosDir(podOf(c))) {
            add(joinPath(joinPath(*cpuset_root, podOf(c)), "cpuset.cpus.partition"), "root",
                "LSX: cpuset partition (cores taken out of the parent's load balancing)");
          }
        }
      }
    }
  }

  // --- memory: BE cap -----------------------------------------------------------------------
  if (mem_root && plan.be_memory_high_bytes) {
    bool v2 = is_v2(mem_root);
    for (const auto& t : beCapTargets(plan)) {
      auto bytes = static_cast<uint64_t>(static_cast<double>(*plan.be_memory_high_bytes) * t.share);
      std::string dir = joinPath(*mem_root, t.cgroup);
      std::string reason = fmt::format("BE memory cap {} MiB", bytes >> 20);
      if (v2 && f.memory_high) {
        add(joinPath(dir, "memory.high"), std::to_string(bytes), reason);
      } else if (!v2 && f.memory_soft_limit) {
        add(joinPath(dir, "memory.soft_limit_in_bytes"), std::to_string(bytes), reason);
      }
    }
  }
  return out;
}

Backend::Backend(KernelFeatures features, FileSystem& fs, executor::Executor& executor)
    : features_(std::move(features)), fs_(fs), executor_(executor) {}

ApplyReport Backend::apply(const EnforcementPlan& plan) {
  ApplyReport report;
  PlanWrites pw = planWrites(plan, features_, fs_);
  report.planned = pw.writes.size();
  report.warnings = std::move(pw.warnings);
  std::string reason;
  for (const auto& r : plan.reasons) {
    reason += (reason.empty() ? "" : "; ") + r;
  }
  executor_.beginRevision(reason.empty() ? "enforce plan" : reason);
  std::set<std::string> now_managed;
  for (const auto& w : pw.writes) {
    now_managed.insert(w.path);
  }
  for (const auto& w : pw.writes) {
    auto st = executor_.write(w.path, w.value, w.reason);
    if (st) {
      continue;
    }
    int code = st.error().code();
    if (code == ENOENT) {
      ++report.vanished;
      continue;
    }
    ++report.failed;
    report.errors.push_back(st.error().message());
    if (code == EAGAIN || code == ECANCELED) {
      report.stopped = true;
      break;
    }
  }
  if (!report.stopped) {
    // Knobs the previous plan set and this one does not: back to their pre-colo value.
    std::vector<std::string> stale;
    for (const auto& p : managed_) {
      if (now_managed.count(p) == 0) {
        stale.push_back(p);
      }
    }
    // Deeper first: a container's quota goes back before its pod's (cpusets are ordered by
    // the executor).
    std::stable_sort(stale.begin(), stale.end(), [](const std::string& a, const std::string& b) {
      return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
    });
    if (!stale.empty()) {
      auto rr = executor_.restorePaths(stale, "no longer in the plan");
      report.restored = rr.restored;
      report.vanished += rr.vanished;
      for (auto& e : rr.errors) {
        report.errors.push_back(std::move(e));
      }
    }
    managed_ = std::move(now_managed);
  } else {
    managed_.insert(now_managed.begin(), now_managed.end());
  }
  report.revision = executor_.currentRevision();
  executor_.endRevision();
  return report;
}

}  // namespace colo::kmods
