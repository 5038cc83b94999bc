#include "agent/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace colo::agent {

std::optional<uint64_t> histPercentile(const Hist& hist, double q) {
  uint64_t total = 0;
  for (uint64_t v : hist) {
    total += v;
  }
  if (total == 0) {
    return std::nullopt;
  }
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  if (rank < 1) {
    rank = 1;
  }
  uint64_t seen = 0;
  for (int i = 0; i < bpf::kHistBuckets; ++i) {
    seen += hist[i];
    if (seen >= rank) {
      return bucketUpperNs(i);
    }
  }
  return bucketUpperNs(bpf::kHistBuckets - 1);
}

HistWindow::HistWindow(uint32_t window) : ring_(window == 0 ? 1 : window) {}

void HistWindow::push(const Hist& delta, uint64_t delta_count, uint64_t delta_sum_ns) {
  Slot& slot = ring_[next_];
  bool empty = delta_count == 0 && delta_sum_ns == 0 && delta == Hist{};
  // An idle tick replacing an idle tick changes nothing but the ring position.
  if (empty && slot.empty) {
    filled_ = std::min<uint32_t>(filled_ + 1, static_cast<uint32_t>(ring_.size()));
    next_ = (next_ + 1) % static_cast<uint32_t>(ring_.size());
    return;
  }
  ++version_;
  if (filled_ == ring_.size()) {
    for (int i = 0; i < bpf::kHistBuckets; ++i) {
      sum_[i] -= slot.hist[i];
    }
    count_ -= slot.count;
    sum_ns_ -= slot.sum_ns;
  } else {
    ++filled_;
  }
  constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
  for (int i = 0; i < bpf::kHistBuckets; ++i) {
    uint64_t d = delta[i] < kMax ? delta[i] : kMax;
    slot.hist[i] = static_cast<uint32_t>(d);
    sum_[i] += d;
  }
  slot.count = delta_count;
  slot.empty = empty;
  slot.sum_ns = delta_sum_ns;
  count_ += delta_count;
  sum_ns_ += delta_sum_ns;
  next_ = (next_ + 1) % static_cast<uint32_t>(ring_.size());
}

Hist histDelta(const Hist& previous, const Hist& current) {
  Hist out{};
  for (int i = 0; i < bpf::kHistBuckets; ++i) {
    out[i] = counterDelta(previous[i], current[i]);
  }
  return out;
}

}  // namespace colo::agent
