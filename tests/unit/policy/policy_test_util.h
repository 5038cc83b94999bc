// Snapshot builders shared by the policy tests.
#pragma once

#include <optional>
#include <string>

#include "agent/policy/engine.h"
#include "agent/policy/snapshot.h"

namespace colo::policy::testing {

inline constexpr int64_t kSec = 1000000000;
inline constexpr uint64_t kGiB = 1ull << 30;

// A healthy node: `cpus` online CPUs (siblings {i, i + cpus/2} when smt), 64 GiB, half free.
inline NodeSnapshot makeNode(int cpus, bool smt = false) {
  NodeSnapshot s;
  s.now_ns = 1000 * kSec;
  s.cpu_count = cpus;
  for (int i = 0; i < cpus; ++i) {
    s.online_cpus.push_back(i);
  }
  if (smt) {
    for (int i = 0; i < cpus / 2; ++i) {
      s.core_siblings.push_back({i, i + cpus / 2});
    }
  }
  s.memory_total_bytes = 64 * kGiB;
  s.memory_available_bytes = 32 * kGiB;
  s.signals = {{"cpu.stat", 0, 0}, {"bpf-stats", 0, 0}, {"meminfo", 0, 0}};
  // addContainer hands out references: they must survive later additions.
  s.containers.reserve(256);
  return s;
}

inline ContainerSample& addContainer(NodeSnapshot& s, std::string id, Tier tier, double usage,
                                     std::optional<double> request = std::nullopt,
                                     std::optional<double> limit = std::nullopt) {
  if (s.containers.size() == s.containers.capacity()) {
    ADD_FAILURE() << "addContainer: capacity reached, earlier references would dangle";
  }
  ContainerSample c;
  c.cgroup = "/kubepods/" + id;
  c.id = std::move(id);
  c.tier = tier;
  c.cpu_usage_cores = usage;
  c.cpu_request_cores = request;
  c.cpu_limit_cores = limit;
  s.containers.push_back(c);
  return s.containers.back();
}

inline ContainerSample* find(NodeSnapshot& s, const std::string& id) {
  for (auto& c : s.containers) {
    if (c.id == id) {
      return &c;
    }
  }
  return nullptr;
}

// Advances the clock one second and runs a tick. Fails the test when the engine froze.
inline kmods::EnforcementPlan tick(Engine& e, NodeSnapshot& s) {
  s.now_ns += kSec;
  auto plan = e.onTick(s);
  if (!plan) {
    ADD_FAILURE() << "engine frozen: " << e.statusJson().dump();
    return {};
  }
  return *plan;
}

inline nlohmann::json controllerState(const Engine& e, std::string_view name) {
  nlohmann::json status = e.statusJson();
  for (const auto& c : status["controllers"]) {
    if (c["name"] == name) {
      return c;
    }
  }
  return nullptr;
}

}  // namespace colo::policy::testing
