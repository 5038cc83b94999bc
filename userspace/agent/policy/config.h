// PolicyConfig: every knob of the policy engine, with its default. docs/tiers-and-policy.md
// documents each one; the JSON keys are "<section>.<knob>" (the YAML policy file, converted to
// JSON, has the same shape).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/policy/snapshot.h"
#include "common/result.h"

namespace colo::policy {

enum class ReliefMode : uint8_t { kBurst, kLimit };
// How BE CPU suppression sizes the BE cpuset (docs/tiers-and-policy.md):
//   kBudget: always the watermark budget, floor(capacity × watermark − LS − system);
//   kIdle:   BE is SCHED_IDLE (cpu.idle=1), so it only runs on time LS leaves idle: the BE cpuset
//            spans every candidate CPU while LS + system usage stays under capacity × watermark,
//            and falls to the budget above it;
//   kAuto:   kIdle where the backend gives BE cpu.idle, kBudget elsewhere.
enum class BeCpuMode : uint8_t { kAuto, kBudget, kIdle };

struct PoolsConfig {
  int be_dedicated_cpus = 0;    // CPUs kept for BE only (the BE pool)
  int min_shared_cpus = 1;      // LSX/LSR allocation stops before the shared pool drops below
  double lsx_default_cpus = 1;  // CPUs for an LSX container with neither request nor limit
  double lsr_default_cpus = 1;  // same for LSR
  double lsr_idle_ratio = 0.1;  // an LSR container is idle below this fraction of its cores
  int lsr_idle_ticks = 3;       // ticks idle before BE may borrow its cores
};

struct BeCpuConfig {
  BeCpuMode mode = BeCpuMode::kAuto;
  double safety_watermark = 0.65;      // fraction of node CPU that LS + system + BE may fill
  int min_cpus = 1;                    // BE cpuset never shrinks below this many CPUs
  int grow_step_cpus = 1;              // at most this many CPUs added to BE per tick
  bool quota_enabled = false;          // also cap BE with a CFS quota
  double quota_grow_step_cores = 0.5;  // at most this much quota added per tick
  // EEVDF slice given to every BE task, in microseconds (kernel range 100..100000); 0: off (the
  // default). Where the kernel takes custom slices (6.12+), a long BE slice lets a waking task
  // with a shorter one override BE's slice protection; measured on nginx next to stress-ng it
  // made LS p99 worse, not better (docs/tiers-and-policy.md), so it is opt-in.
  int64_t task_slice_us = 0;
};

struct LatencyGuardConfig {
  int64_t threshold_us_lsx = 1000;  // run-queue delay p99 above which a tier is "over"
  int64_t threshold_us_lsr = 2000;
  int64_t threshold_us_ls = 5000;
  int window_ticks = 10;           // short window of per-tick pressure
  double trigger_percentile = 30;  // fire when this percentile of the window is over
  double release_ratio = 0.8;      // calm when p90 of the window < ratio × threshold
  int release_hold_ticks = 5;      // calm ticks before the first release step
  double squeeze_factor = 0.5;     // BE CPU limit × factor on each squeeze
  double release_step_cpus = 1;    // BE CPU limit + step per calm tick
  int events_to_fire = 3;          // ring-buffer events within event_window_ms that squeeze
  int64_t event_window_ms = 100;
  int64_t event_min_interval_ms = 200;  // at most one event-driven squeeze per interval
};

struct ThrottleReliefConfig {
  ReliefMode mode = ReliefMode::kBurst;
  double throttled_ratio = 0.1;     // throttled periods / periods counted as "throttled"
  int trigger_ticks = 2;            // consecutive throttled ticks before relief
  double burst_fraction = 1.0;      // burst = fraction × quota per period (kernel: <= quota)
  double limit_step_ratio = 0.1;    // limit mode: raise by this fraction of the limit per tick
  double max_limit_ratio = 1.5;     // limit mode: never above ratio × the container's limit
  int revert_calm_ticks = 5;        // calm ticks before relief is taken back
  double revert_usage_ratio = 0.8;  // calm: not throttled and usage < ratio × limit
  int64_t period_us = 100000;       // CFS period the burst is computed for
};

struct MemoryGuardConfig {
  double psi_some_threshold = 10.0;      // memory PSI some avg10 (%) meaning pressure
  double free_watermark = 0.10;          // MemAvailable / MemTotal below this: pressure
  double release_free_watermark = 0.15;  // and above this (with PSI low): calm
  uint64_t min_be_bytes = 256ull << 20;  // the cap never goes below this
  int release_hold_ticks = 5;            // calm ticks before the cap starts to rise
  double release_step_ratio = 0.05;      // cap + ratio × MemTotal per calm tick
  double squeeze_ratio = 0.05;           // under pressure: cap <= BE usage × (1 - ratio)
};

struct FreezeConfig {
  int64_t max_signal_age_ms = 5000;  // a signal older than this freezes the engine
  int max_read_failures = 3;         // consecutive failed reads of one signal that freeze
  int resume_after_ticks = 2;        // healthy ticks before the engine resumes
};

struct CapacityConfig {
  int window_ticks = 300;          // LS / system usage peaks are taken over this window
  double memory_watermark = 0.85;  // fraction of MemTotal LS + system + BE may fill
  double ot_ratio = 1.5;           // ot-cpu = be-cpu × ratio
};

struct ProfileConfig {
  int window_ticks = 600;           // usage samples kept per container
  double periodic_percentile = 95;  // "periodic usage" of the recommended request
  double ewma_alpha = 0.1;
};

struct PolicyConfig {
  PoolsConfig pools;
  BeCpuConfig be_cpu;
  LatencyGuardConfig latency_guard;
  ThrottleReliefConfig throttle_relief;
  MemoryGuardConfig memory_guard;
  FreezeConfig freeze;
  CapacityConfig capacity;
  ProfileConfig profile;

  // Checks ranges; the error names the key ("be_cpu.safety_watermark: must be in (0, 1], got 2").
  Status validate() const;
  // Every knob, nested by section.
  nlohmann::json toJson() const;
  // Defaults overridden by the keys present in `j`; unknown keys and wrong types are errors
  // naming the key. The result is validated.
  static Result<PolicyConfig> fromJson(const nlohmann::json& j);

  // Threshold of a tier in ns (BE: 0, never guarded).
  uint64_t thresholdNs(Tier tier) const;
};

const char* reliefModeName(ReliefMode mode);
const char* beCpuModeName(BeCpuMode mode);

}  // namespace colo::policy
