// Finds the container an operator means by "<container>": a container id or id prefix, a name
// ("pod<uid>/<id>"), a pod uid, a cgroup path or a cgroup id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace colo::cli {

struct MatchCandidate {
  std::string id;            // container id, or the cgroup path outside Kubernetes
  std::string name;          // "pod<uid>/<id>" or the cgroup path
  std::string pod_uid;       // "" outside Kubernetes
  std::string container_id;  // "" for pod-level and non-Kubernetes cgroups
  std::string cgroup;        // path relative to the hierarchy root
  uint64_t cgroup_id = 0;
};

// Index of the one candidate `query` designates. Exact matches (id, name, cgroup path with or
// without its leading '/', decimal cgroup id) win over a pod uid (which picks the pod-level cgroup
// when present), which wins over a prefix of the id or container id.
// Errors (EINVAL): nothing matches; or several match at the best level (the message lists them).
Result<size_t> matchContainer(std::string_view query,
                              const std::vector<MatchCandidate>& candidates);

}  // namespace colo::cli
