// Counter deltas and windowed log2 histograms of run-queue delays.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "bpf/sched_probe.h"

namespace colo::agent {

// Increase of a cumulative counter. A value below the previous one means the counter restarted
// (BPF entry re-created, agent restarted on pinned maps): the whole current value is new.
inline uint64_t counterDelta(uint64_t previous, uint64_t current) {
  return current >= previous ? current - previous : current;
}

using Hist = std::array<uint64_t, bpf::kHistBuckets>;

// Upper bound of log2 bucket `i` (bucket i holds 2^i <= d < 2^(i+1); bucket 0 also d = 0).
inline uint64_t bucketUpperNs(int i) { return uint64_t{2} << i; }

// pNN of a log2 histogram: the upper bound of the bucket holding the ceil(q * total)-th sample,
// so it over-reports by at most 2x. nullopt when the histogram is empty. q in (0, 1].
std::optional<uint64_t> histPercentile(const Hist& hist, double q);

// Sum over the last `window` ticks of per-tick histogram deltas (and delay count/sum).
// Memory: window x kHistBuckets x 4 bytes; per-tick deltas saturate at 2^32-1 per bucket.
class HistWindow {
 public:
  explicit HistWindow(uint32_t window);

  // Adds one tick's deltas, dropping the tick that falls out of the window.
  void push(const Hist& delta, uint64_t delta_count, uint64_t delta_sum_ns);

  const Hist& sum() const { return sum_; }
  uint64_t count() const { return count_; }   // delays in the window
  uint64_t sumNs() const { return sum_ns_; }  // their total
  uint32_t ticks() const { return filled_; }  // ticks held (<= window)
  // Bumped whenever sum() changes, so readers can skip recomputing percentiles of an unchanged
  // window (most containers of a node see no run-queue delay in most ticks).
  uint64_t version() const { return version_; }

 private:
  struct Slot {
    std::array<uint32_t, bpf::kHistBuckets> hist{};
    uint64_t count = 0;
    uint64_t sum_ns = 0;
    bool empty = true;  // all of the above zero
  };
  std::vector<Slot> ring_;
  uint32_t next_ = 0;
  uint32_t filled_ = 0;
  Hist sum_{};
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
  uint64_t version_ = 0;
};

// Per-bucket counterDelta of two cumulative histograms.
Hist histDelta(const Hist& previous, const Hist& current);

}  // namespace colo::agent
