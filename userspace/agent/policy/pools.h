// PoolAllocator: splits the online CPUs into the four pools of the tiers.
//   LSX: whole cores (every sibling of a hardware core), exclusive to one LSX container;
//   LSR: reserved CPUs per LSR container, which BE may borrow while the container idles;
//   BE:  pools.be_dedicated_cpus CPUs for BE only;
//   shared: the rest, where LS runs (and BE, as far as suppression allows).
// Assignments are sticky: a container keeps its CPUs from tick to tick while its size and the
// online CPUs allow, so cpusets do not churn.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/policy/config.h"
#include "agent/policy/snapshot.h"
#include "kmods-free/enforcement_plan.h"

namespace colo::policy {

struct PoolLayout {
  kmods::CpuPools pools;                        // every list ascending
  std::map<std::string, std::vector<int>> lsx;  // container id -> its exclusive CPUs
  std::map<std::string, std::vector<int>> lsr;  // container id -> its reserved CPUs
  std::vector<std::string> shortfalls;          // containers given less than they asked for
};

class PoolAllocator {
 public:
  // Recomputes the layout for the snapshot's containers and online CPUs. Always keeps
  // max(min_shared_cpus + be_dedicated_cpus, be_cpu.min_cpus) CPUs (if the node has them)
  // out of LSX/LSR, so the BE floor and the shared pool always exist.
  const PoolLayout& allocate(const NodeSnapshot& snap, const PolicyConfig& cfg);
  const PoolLayout& layout() const { return layout_; }
  nlohmann::json toJson() const;

 private:
  PoolLayout layout_;
};

// CPUs a container of `tier` asks for: ceil(request), else ceil(limit), else the default.
int wantedCpus(const ContainerSample& c, double default_cpus);

}  // namespace colo::policy
