#include "agent/tiers.h"

#include <fnmatch.h>

#include <cctype>

namespace colo::agent {

std::optional<bpf::Tier> matchTierRule(const std::vector<TierRule>& rules,
                                       std::string_view cgroup_path) {
  std::string path(cgroup_path);
  for (const auto& rule : rules) {
    if (::fnmatch(rule.match.c_str(), path.c_str(), FNM_PATHNAME) == 0) {
      return rule.tier;
    }
  }
  return std::nullopt;
}

std::optional<bpf::Tier> resolveTier(const std::vector<TierRule>& rules,
                                     std::string_view cgroup_path,
                                     const std::optional<KubeCgroup>& kube) {
  if (auto tier = matchTierRule(rules, cgroup_path)) {
    return tier;
  }
  if (kube && kube->level == KubeCgroup::Level::kContainer) {
    return kube->qos == QosClass::kBestEffort ? bpf::Tier::kBE : bpf::Tier::kLS;
  }
  return std::nullopt;
}

}  // namespace colo::agent
