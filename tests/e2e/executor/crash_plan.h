// The cgroup layout and the plans the crash helper enforces, shared with the test that checks
// them. Paths are relative to the hierarchy roots, under the test's colo-test-* directory.
#pragma once

#include <string>
#include <vector>

#include "kmods-free/enforcement_plan.h"

namespace colo::test {

// Container cgroups (pod/container), created by the test with a sleeping task in each.
inline std::vector<std::string> crashContainers() {
  return {"be/pod1/c1", "be/pod2/c2", "ls/pod3/c3", "lsx/pod4/c4"};
}

// Plan `n` (n = 0, 1, 2, ...): every other plan caps BE harder, so the helper keeps adjusting.
inline kmods::EnforcementPlan crashPlan(const std::string& top, int n) {
  auto rel = [&](const std::string& p) { return "/" + top + "/" + p; };
  kmods::EnforcementPlan p;
  p.cgroups = {{"c1", rel("be/pod1/c1"), rel("be/pod1"), kmods::PlanTier::kBE},
               {"c2", rel("be/pod2/c2"), rel("be/pod2"), kmods::PlanTier::kBE},
               {"c3", rel("ls/pod3/c3"), rel("ls/pod3"), kmods::PlanTier::kLS},
               {"c4", rel("lsx/pod4/c4"), rel("lsx/pod4"), kmods::PlanTier::kLSX}};
  p.pools.lsx = {1};
  p.pools.shared = {0};
  p.be_cpus = {0};
  p.be_quota_cores = n % 2 == 0 ? 0.5 : 0.3;
  p.ls_burst_us["c3"] = n % 2 == 0 ? 10000 : 20000;
  p.ls_limit_cores["c3"] = n % 2 == 0 ? 1.0 : 1.5;
  p.be_memory_high_bytes = uint64_t{256} << 20;
  p.reasons = {"crash-test plan " + std::to_string(n)};
  return p;
}

}  // namespace colo::test
