// LsrBorrow: lends an LSR container's reserved CPUs to BE while the container idles, and takes
// them back at once. Idle: usage <= pools.lsr_idle_ratio × its reserved CPUs and its run-queue
// p99 under its threshold, for pools.lsr_idle_ticks ticks in a row. Busy for one tick, or one
// LSR ring-buffer event (revoke()), ends the loan immediately.
#pragma once

#include <map>

#include "agent/policy/controller.h"

namespace colo::policy {

class LsrBorrow final : public Controller {
 public:
  std::string_view name() const override { return "lsr-borrow"; }
  std::string_view state() const override { return lent_cpus_ > 0 ? "lending" : "idle"; }
  nlohmann::json stateJson() const override;
  std::vector<std::pair<std::string, double>> gauges() const override;
  void step(const TickInput& in, PlanDraft& draft) override;

  // Ends every loan now (an LSR task waited). Returns true when something was lent.
  bool revoke();
  // The CPUs lent now, for the event path that rebuilds the plan between ticks.
  std::vector<int> lentCpus(const PoolLayout& layout) const;

 private:
  struct Loan {
    int idle_ticks = 0;
    bool lent = false;
  };
  std::map<std::string, Loan> loans_;
  int lent_cpus_ = 0;
  uint64_t revocations_ = 0;
};

}  // namespace colo::policy
