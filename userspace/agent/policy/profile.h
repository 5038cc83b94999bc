// ProfileStore: per-container usage windows (profile.window_ticks samples), their percentiles,
// an EWMA, and the recommended CPU request
//   recommended_request_cores = p<periodic_percentile>(usage over the window) / safety_watermark
// so that the container at its periodic peak sits at the watermark. Containers absent from a
// snapshot are dropped.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/policy/config.h"
#include "agent/policy/snapshot.h"
#include "agent/policy/window.h"

namespace colo::policy {

struct ContainerProfile {
  std::string id;
  Tier tier = Tier::kLS;
  size_t samples = 0;
  double cpu_p50 = 0, cpu_p90 = 0, cpu_p95 = 0, cpu_p99 = 0, cpu_max = 0, cpu_ewma = 0;
  double periodic_usage_cores = 0;  // p<periodic_percentile>
  double recommended_request_cores = 0;
  std::optional<double> request_cores;
  double memory_p95_bytes = 0, memory_max_bytes = 0;

  nlohmann::json toJson() const;
};

class ProfileStore {
 public:
  ProfileStore() = default;
  ProfileStore(const ProfileStore&) = delete;  // hint_ points into entries_
  ProfileStore& operator=(const ProfileStore&) = delete;

  void update(const NodeSnapshot& snap, const PolicyConfig& cfg);
  // The profile of one container; nullopt when unknown. Percentiles are computed on call.
  std::optional<ContainerProfile> profile(const std::string& id, const PolicyConfig& cfg) const;
  // {"<id>": {...}, ...} for /v1/containers and `coloctl profile`.
  nlohmann::json toJson(const PolicyConfig& cfg) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Tier tier = Tier::kLS;
    Window cpu;
    Window mem;
    double ewma = 0;
    std::optional<double> request;
    uint64_t seen = 0;  // tick generation it was last seen in
  };
  ContainerProfile build(const std::string& id, const Entry& e, const PolicyConfig& cfg) const;
  std::unordered_map<std::string, Entry> entries_;  // by container id (JSON sorts the keys)
  // The entry of the i-th container of the last update: the collector keeps its order from tick
  // to tick, so update() checks one id per container instead of hashing it. Valid after each
  // update (unseen entries are erased only after every hint has been re-pointed).
  std::vector<std::pair<const std::string, Entry>*> hint_;
  uint64_t generation_ = 0;
};

}  // namespace colo::policy
