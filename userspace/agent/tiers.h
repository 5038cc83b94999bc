// Tier of a watched cgroup: the first config rule whose glob matches its path, else the
// Kubernetes QoS class (BestEffort -> BE, Guaranteed/Burstable -> LS). Pod labels
// (colo.io/qos) come later and will sit between the two.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/layout.h"
#include "bpf/sched_probe.h"

namespace colo::agent {

struct TierRule {
  // fnmatch(3) glob with FNM_PATHNAME against the cgroup path relative to the cpu hierarchy root
  // ("/system.slice/nginx.service", "/batch/*"): '*' and '?' stay within one path component.
  std::string match;
  bpf::Tier tier = bpf::Tier::kLS;
};

// First rule matching `cgroup_path`, or nullopt.
std::optional<bpf::Tier> matchTierRule(const std::vector<TierRule>& rules,
                                       std::string_view cgroup_path);

// Tier of a cgroup: rule first, then the QoS class of `kube` (when it is a Kubernetes
// container). nullopt: not a watched cgroup (no rule matches, not a container).
std::optional<bpf::Tier> resolveTier(const std::vector<TierRule>& rules,
                                     std::string_view cgroup_path,
                                     const std::optional<KubeCgroup>& kube);

}  // namespace colo::agent
