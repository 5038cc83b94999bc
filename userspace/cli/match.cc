#include "cli/match.h"

#include <fmt/format.h>

namespace colo::cli {
namespace {

std::string_view stripSlashes(std::string_view s) {
  while (s.size() > 1 && s.front() == '/') {
    s.remove_prefix(1);
  }
  while (s.size() > 1 && s.back() == '/') {
    s.remove_suffix(1);
  }
  return s;
}

bool exactMatch(std::string_view q, const MatchCandidate& c) {
  if (q == c.id || q == c.name || (!c.container_id.empty() && q == c.container_id)) {
    return true;
  }
  if (!c.cgroup.empty() && stripSlashes(q) == stripSlashes(c.cgroup)) {
    return true;
  }
  return q == fmt::format("{}", c.cgroup_id);
}

bool prefixMatch(std::string_view q, const MatchCandidate& c) {
  return (!c.id.empty() && c.id.starts_with(q)) ||
         (!c.container_id.empty() && c.container_id.starts_with(q));
}

}  // namespace

Result<size_t> matchContainer(std::string_view query,
                              const std::vector<MatchCandidate>& candidates) {
  if (query.empty()) {
    return failInvalid("empty container name");
  }
  std::vector<size_t> found;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (exactMatch(query, candidates[i])) {
      found.push_back(i);
    }
  }
  if (found.empty()) {
    std::string uid(query.starts_with("pod") ? query.substr(3) : query);
    std::vector<size_t> pod_level;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (!candidates[i].pod_uid.empty() && candidates[i].pod_uid == uid) {
        found.push_back(i);
        if (candidates[i].container_id.empty()) {
          pod_level.push_back(i);
        }
      }
    }
    if (pod_level.size() == 1) {
      return pod_level[0];
    }
  }
  if (found.empty()) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (prefixMatch(query, candidates[i])) {
        found.push_back(i);
      }
    }
  }
  if (found.size() == 1) {
    return found[0];
  }
  if (found.empty()) {
    return failInvalid(fmt::format("no container matches \"{}\"", query));
  }
  std::string list;
  for (size_t n = 0; n < found.size() && n < 10; ++n) {
    list +=
        fmt::format("\n  {} (cgroup {})", candidates[found[n]].name, candidates[found[n]].cgroup);
  }
  if (found.size() > 10) {
    list += fmt::format("\n  ... and {} more", found.size() - 10);
  }
  return failInvalid(
      fmt::format("\"{}\" matches {} containers; be more specific:{}", query, found.size(), list));
}

}  // namespace colo::cli
