// Timing loop for Engine::onTick: a 64-CPU node with N containers (default 200) whose usage
// varies every tick. Prints ns per tick and per container. A benchmark, not a test.
//   colo_policy_bench [containers] [ticks]
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "agent/policy/engine.h"

namespace {

using colo::policy::NodeSnapshot;
using colo::policy::Tier;

NodeSnapshot makeNode(int containers) {
  NodeSnapshot s;
  s.cpu_count = 64;
  for (int i = 0; i < 64; ++i) {
    s.online_cpus.push_back(i);
  }
  for (int i = 0; i < 32; ++i) {
    s.core_siblings.push_back({i, i + 32});
  }
  s.memory_total_bytes = 256ull << 30;
  s.memory_available_bytes = 128ull << 30;
  s.memory_psi_some_avg10 = 0.5;
  s.signals = {{"cpu.stat", 0, 0}, {"bpf-stats", 0, 0}, {"psi", 0, 0}};
  for (int i = 0; i < containers; ++i) {
    colo::policy::ContainerSample c;
    c.id = fmt::format("c{:04d}", i);
    c.cgroup = fmt::format("/kubepods/pod{}/c{}", i, i);
    c.pod_cgroup = fmt::format("/kubepods/pod{}", i);
    c.tier = i < 2 ? Tier::kLSX : i < 8 ? Tier::kLSR : i < 110 ? Tier::kLS : Tier::kBE;
    c.cpu_request_cores = c.tier == Tier::kBE ? 0.0 : 1.0;
    c.cpu_limit_cores = 2.0;
    c.memory_usage_bytes = 512ull << 20;
    s.containers.push_back(c);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int containers = argc > 1 ? std::atoi(argv[1]) : 200;
  int ticks = argc > 2 ? std::atoi(argv[2]) : 20000;
  auto engine = colo::policy::Engine::create(colo::policy::PolicyConfig{});
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.error().message().c_str());
    return 1;
  }
  NodeSnapshot s = makeNode(containers);
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> usage(0.0, 0.6);
  std::uniform_int_distribution<uint64_t> p99(100000, 8000000);
  std::uniform_real_distribution<double> thr(0.0, 0.3);
  // Pre-generate the per-tick variation so the loop times the engine, not the RNG.
  const int kVariants = 64;
  std::vector<NodeSnapshot> variants;
  for (int v = 0; v < kVariants; ++v) {
    NodeSnapshot n = s;
    double ls = 0;
    for (auto& c : n.containers) {
      c.cpu_usage_cores = usage(rng);
      c.runq_p99_ns = p99(rng);
      c.throttled_ratio = thr(rng);
      ls += c.cpu_usage_cores;
    }
    n.system_cpu_usage_cores = 1.5;
    n.node_cpu_usage_cores = ls + 1.5;
    variants.push_back(std::move(n));
  }
  uint64_t sink = 0;
  for (int i = 0; i < 200; ++i) {  // warm-up: fill windows
    auto& n = variants[i % kVariants];
    n.now_ns = static_cast<int64_t>(i) * 1000000000;
    sink += (*engine)->onTick(n)->be_cpus.size();
  }
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < ticks; ++i) {
    auto& n = variants[i % kVariants];
    n.now_ns = static_cast<int64_t>(i + 200) * 1000000000;
    auto plan = (*engine)->onTick(n);
    sink += plan ? plan->be_cpus.size() : 0;
  }
  auto t1 = std::chrono::steady_clock::now();
  const int kEvents = 200000;
  int64_t now = static_cast<int64_t>(ticks + 200) * 1000000000;
  for (int i = 0; i < kEvents; ++i) {
    auto plan = (*engine)->onLatencyEvent(Tier::kLS, 6000000, now + i * 1000);
    sink += plan ? 1 : 0;
  }
  auto t2 = std::chrono::steady_clock::now();
  std::string metrics;
  const int kDumps = 200;
  for (int i = 0; i < kDumps; ++i) {
    metrics = (*engine)->prometheusText();
    sink += metrics.size() + (*engine)->statusJson().dump().size();
  }
  auto t3 = std::chrono::steady_clock::now();
  auto ns = [](auto a, auto b) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
  };
  double per_tick = ns(t0, t1) / ticks;
  std::printf("containers=%d ticks=%d\n", containers, ticks);
  std::printf("onTick: %.0f ns/tick, %.0f ns/container\n", per_tick, per_tick / containers);
  std::printf("onLatencyEvent: %.0f ns/event\n", ns(t1, t2) / kEvents);
  std::printf("prometheusText+statusJson: %.0f ns/call\n", ns(t2, t3) / kDumps);
  std::printf("(sink %llu)\n", static_cast<unsigned long long>(sink));
  return 0;
}
