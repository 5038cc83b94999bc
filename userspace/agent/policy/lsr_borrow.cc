#include "agent/policy/lsr_borrow.h"

#include <fmt/format.h>

#include <algorithm>

namespace colo::policy {

void LsrBorrow::step(const TickInput& in, PlanDraft& draft) {
  std::map<std::string, Loan> next;
  for (const auto& c : in.snap.containers) {
    if (c.tier != Tier::kLSR) {
      continue;
    }
    auto cpus = in.layout.lsr.find(c.id);
    if (cpus == in.layout.lsr.end()) {
      continue;  // got no reserved CPUs: nothing to lend
    }
    Loan loan;
    if (auto it = loans_.find(c.id); it != loans_.end()) {
      loan = it->second;
    }
    double reserved = static_cast<double>(cpus->second.size());
    bool idle = c.cpu_usage_cores <= in.cfg.pools.lsr_idle_ratio * reserved &&
                c.runq_p99_ns < in.cfg.thresholdNs(Tier::kLSR);
    if (idle) {
      loan.idle_ticks++;
      if (!loan.lent && loan.idle_ticks >= in.cfg.pools.lsr_idle_ticks) {
        loan.lent = true;
        draft.plan.reasons.push_back(
            fmt::format("lsr-borrow: {} idle {} ticks ({:.2f} of {} cores): lend to BE", c.id,
                        loan.idle_ticks, c.cpu_usage_cores, cpus->second.size()));
      }
    } else {
      if (loan.lent) {
        revocations_++;
        draft.plan.reasons.push_back(fmt::format(
            "lsr-borrow: {} busy ({:.2f} cores): take its CPUs back", c.id, c.cpu_usage_cores));
      }
      loan = Loan{};
    }
    next[c.id] = loan;
  }
  loans_ = std::move(next);
  draft.lsr_lent = lentCpus(in.layout);
  lent_cpus_ = static_cast<int>(draft.lsr_lent.size());
}

bool LsrBorrow::revoke() {
  bool any = false;
  for (auto& [id, loan] : loans_) {
    any = any || loan.lent;
    loan = Loan{};
  }
  if (any) {
    revocations_++;
  }
  lent_cpus_ = 0;
  return any;
}

std::vector<int> LsrBorrow::lentCpus(const PoolLayout& layout) const {
  std::vector<int> out;
  for (const auto& [id, loan] : loans_) {
    if (!loan.lent) {
      continue;
    }
    if (auto cpus = layout.lsr.find(id); cpus != layout.lsr.end()) {
      out.insert(out.end(), cpus->second.begin(), cpus->second.end());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json LsrBorrow::stateJson() const {
  nlohmann::json containers = nlohmann::json::object();
  for (const auto& [id, loan] : loans_) {
    containers[id] = {{"idle_ticks", loan.idle_ticks}, {"lent", loan.lent}};
  }
  return {{"state", state()},
          {"lent_cpus", lent_cpus_},
          {"revocations", revocations_},
          {"containers", containers}};
}

std::vector<std::pair<std::string, double>> LsrBorrow::gauges() const {
  return {{"lent_cpus", lent_cpus_}, {"revocations_total", static_cast<double>(revocations_)}};
}

}  // namespace colo::policy
