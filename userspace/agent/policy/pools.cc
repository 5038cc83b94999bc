#include "agent/policy/pools.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace colo::policy {
namespace {

// A hardware core: its online CPUs, and whether every sibling is online (LSX needs that).
struct Core {
  std::vector<int> cpus;
  bool whole = true;
};

std::vector<Core> buildCores(const NodeSnapshot& snap) {
  std::set<int> online(snap.online_cpus.begin(), snap.online_cpus.end());
  std::set<int> seen;
  std::vector<Core> cores;
  for (const auto& siblings : snap.core_siblings) {
    Core core;
    for (int cpu : siblings) {
      if (seen.contains(cpu)) {
        continue;  // listed twice: keep the first core
      }
      if (online.contains(cpu)) {
        core.cpus.push_back(cpu);
        seen.insert(cpu);
      } else {
        core.whole = false;
      }
    }
    if (!core.cpus.empty()) {
      std::sort(core.cpus.begin(), core.cpus.end());
      cores.push_back(std::move(core));
    }
  }
  for (int cpu : online) {
    if (!seen.contains(cpu)) {
      cores.push_back(Core{{cpu}, true});
    }
  }
  std::sort(cores.begin(), cores.end(),
            [](const Core& a, const Core& b) { return a.cpus.front() < b.cpus.front(); });
  return cores;
}

}  // namespace

int wantedCpus(const ContainerSample& c, double default_cpus) {
  double want = default_cpus;
  if (c.cpu_request_cores && *c.cpu_request_cores > 0) {
    want = *c.cpu_request_cores;
  } else if (c.cpu_limit_cores && *c.cpu_limit_cores > 0) {
    want = *c.cpu_limit_cores;
  }
  // 1.0000001 from float noise in the collector must not cost a whole extra CPU.
  return std::max(1, static_cast<int>(std::ceil(want - 1e-6)));
}

const PoolLayout& PoolAllocator::allocate(const NodeSnapshot& snap, const PolicyConfig& cfg) {
  std::vector<Core> cores = buildCores(snap);
  std::set<int> free_cpus(snap.online_cpus.begin(), snap.online_cpus.end());
  const int keep =
      std::max(cfg.pools.min_shared_cpus + cfg.pools.be_dedicated_cpus, cfg.be_cpu.min_cpus);
  auto budget = [&] { return static_cast<int>(free_cpus.size()) - keep; };

  PoolLayout next;
  auto take = [&](const std::vector<int>& cpus) {
    for (int cpu : cpus) {
      free_cpus.erase(cpu);
    }
  };
  auto all_free = [&](const std::vector<int>& cpus) {
    return std::all_of(cpus.begin(), cpus.end(), [&](int c) { return free_cpus.contains(c); });
  };
  auto whole_core_of = [&](int cpu) -> const Core* {
    for (const auto& core : cores) {
      if (std::find(core.cpus.begin(), core.cpus.end(), cpu) != core.cpus.end()) {
        return &core;
      }
    }
    return nullptr;
  };

  // Containers by tier, sorted by id so the layout is deterministic.
  std::vector<const ContainerSample*> lsx;
  std::vector<const ContainerSample*> lsr;
  for (const auto& c : snap.containers) {
    if (c.tier == Tier::kLSX) {
      lsx.push_back(&c);
    } else if (c.tier == Tier::kLSR) {
      lsr.push_back(&c);
    }
  }
  auto by_id = [](const ContainerSample* a, const ContainerSample* b) { return a->id < b->id; };
  std::sort(lsx.begin(), lsx.end(), by_id);
  std::sort(lsr.begin(), lsr.end(), by_id);

  // Pass 1: every container keeps its previous CPUs when they still fit its size, so a
  // newcomer (of either tier) never takes a running container's cores.
  std::map<std::string, std::vector<int>> kept_lsx;
  std::map<std::string, std::vector<int>> kept_lsr;
  for (const auto* c : lsx) {
    auto prev = layout_.lsx.find(c->id);
    if (prev == layout_.lsx.end()) {
      continue;
    }
    const auto& cpus = prev->second;
    int want = wantedCpus(*c, cfg.pools.lsx_default_cpus);
    const Core* first = whole_core_of(cpus.front());
    int core_size = first ? static_cast<int>(first->cpus.size()) : 1;
    bool whole = std::all_of(cpus.begin(), cpus.end(), [&](int cpu) {
      const Core* core = whole_core_of(cpu);
      return core != nullptr && core->whole;
    });
    // Whole, free, and no more than one core over the size it asks for now.
    int n = static_cast<int>(cpus.size());
    if (whole && all_free(cpus) && n >= want && n < want + core_size && budget() >= n) {
      take(cpus);
      kept_lsx[c->id] = cpus;
    }
  }
  for (const auto* c : lsr) {
    auto prev = layout_.lsr.find(c->id);
    if (prev == layout_.lsr.end()) {
      continue;
    }
    int n = static_cast<int>(prev->second.size());
    if (n == wantedCpus(*c, cfg.pools.lsr_default_cpus) && all_free(prev->second) &&
        budget() >= n) {
      take(prev->second);
      kept_lsr[c->id] = prev->second;
    }
  }

  // Pass 2: the others. LSX: whole cores from the top of the CPU range down.
  for (const auto* c : lsx) {
    int want = wantedCpus(*c, cfg.pools.lsx_default_cpus);
    std::vector<int> got;
    if (auto k = kept_lsx.find(c->id); k != kept_lsx.end()) {
      got = k->second;
    } else {
      for (auto it = cores.rbegin(); it != cores.rend() && static_cast<int>(got.size()) < want;
           ++it) {
        if (!it->whole || !all_free(it->cpus) || static_cast<int>(it->cpus.size()) > budget()) {
          continue;
        }
        got.insert(got.end(), it->cpus.begin(), it->cpus.end());
        take(it->cpus);
      }
    }
    std::sort(got.begin(), got.end());
    if (static_cast<int>(got.size()) < want) {
      next.shortfalls.push_back(
          fmt::format("LSX {} wants {} CPUs, got {}", c->id, want, got.size()));
    }
    if (!got.empty()) {
      next.pools.lsx.insert(next.pools.lsx.end(), got.begin(), got.end());
      next.lsx[c->id] = std::move(got);
    }
  }

  // LSR: CPUs from the top of what is left, core by core so siblings stay together.
  for (const auto* c : lsr) {
    int want = wantedCpus(*c, cfg.pools.lsr_default_cpus);
    std::vector<int> got;
    if (auto k = kept_lsr.find(c->id); k != kept_lsr.end()) {
      got = k->second;
    } else {
      for (auto it = cores.rbegin(); it != cores.rend(); ++it) {
        for (auto cpu = it->cpus.rbegin(); cpu != it->cpus.rend(); ++cpu) {
          if (static_cast<int>(got.size()) < want && budget() > 0 && free_cpus.contains(*cpu)) {
            got.push_back(*cpu);
            free_cpus.erase(*cpu);
          }
        }
      }
    }
    std::sort(got.begin(), got.end());
    if (static_cast<int>(got.size()) < want) {
      next.shortfalls.push_back(
          fmt::format("LSR {} wants {} CPUs, got {}", c->id, want, got.size()));
    }
    if (!got.empty()) {
      next.pools.lsr.insert(next.pools.lsr.end(), got.begin(), got.end());
      next.lsr[c->id] = std::move(got);
    }
  }

  // BE pool from the bottom, never eating the shared pool's minimum.
  int be_n = std::min(cfg.pools.be_dedicated_cpus,
                      std::max(0, static_cast<int>(free_cpus.size()) - cfg.pools.min_shared_cpus));
  for (auto it = free_cpus.begin(); it != free_cpus.end() && be_n > 0; --be_n) {
    next.pools.be.push_back(*it);
    it = free_cpus.erase(it);
  }
  next.pools.shared.assign(free_cpus.begin(), free_cpus.end());
  std::sort(next.pools.lsx.begin(), next.pools.lsx.end());
  std::sort(next.pools.lsr.begin(), next.pools.lsr.end());
  layout_ = std::move(next);
  return layout_;
}

nlohmann::json PoolAllocator::toJson() const {
  nlohmann::json j;
  j["lsx"] = layout_.pools.lsx;
  j["lsr"] = layout_.pools.lsr;
  j["shared"] = layout_.pools.shared;
  j["be"] = layout_.pools.be;
  j["lsx_by_container"] = layout_.lsx;
  j["lsr_by_container"] = layout_.lsr;
  j["shortfalls"] = layout_.shortfalls;
  return j;
}

}  // namespace colo::policy
