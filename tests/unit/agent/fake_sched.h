// FakeSched: an in-memory SchedSource for collector and API tests.
#pragma once

#include <map>
#include <vector>

#include "bpf/sched_probe.h"

namespace colo::agent::test {

class FakeSched final : public bpf::SchedSource {
 public:
  Result<std::vector<bpf::CgroupSchedStats>> readStats() override {
    ++reads;
    if (fail_reads) {
      return failErrno(EIO, "read stats map");
    }
    std::vector<bpf::CgroupSchedStats> out;
    for (const auto& [id, s] : stats) {
      out.push_back(s);
    }
    return out;
  }
  Status setTier(bpf::CgroupRef cgroup, bpf::Tier tier) override {
    tiers[cgroup.id] = tier;
    hierarchies[cgroup.id] = cgroup.hierarchy;
    return ok();
  }
  Status forget(bpf::CgroupRef cgroup) override {
    forgotten.push_back(cgroup.id);
    tiers.erase(cgroup.id);
    stats.erase(cgroup.id);
    return ok();
  }
  Status setThreshold(bpf::Tier tier, uint64_t threshold_ns) override {
    thresholds[static_cast<size_t>(tier)] = threshold_ns;
    return ok();
  }

  // Entry for cgroup `id` (created on first use) in hierarchy `h`.
  bpf::CgroupSchedStats& entry(uint64_t id, bpf::Hierarchy h = bpf::Hierarchy::kV1Cpu) {
    auto& s = stats[id];
    s.cgroup = bpf::CgroupRef{h, id};
    return s;
  }

  std::map<uint64_t, bpf::CgroupSchedStats> stats;
  std::map<uint64_t, bpf::Tier> tiers;
  std::map<uint64_t, bpf::Hierarchy> hierarchies;
  std::vector<uint64_t> forgotten;
  std::array<uint64_t, bpf::kTierCount> thresholds{};
  bool fail_reads = false;
  int reads = 0;
};

}  // namespace colo::agent::test
