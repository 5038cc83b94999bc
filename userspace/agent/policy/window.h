// Window: the last N samples of a value, with percentiles and the maximum. Push is O(1);
// percentile is O(N) (nth_element on a copy), meant for status queries and short windows.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace colo::policy {

class Window {
 public:
  explicit Window(size_t capacity = 1) : capacity_(capacity == 0 ? 1 : capacity) {
    samples_.reserve(capacity_);
  }

  void push(double v) {
    if (samples_.size() < capacity_) {
      samples_.push_back(v);
    } else {
      samples_[next_] = v;
    }
    if (++next_ == capacity_) {
      next_ = 0;
    }
  }
  void clear() {
    samples_.clear();
    next_ = 0;
  }
  size_t size() const { return samples_.size(); }
  size_t capacity() const { return capacity_; }
  bool full() const { return samples_.size() == capacity_; }
  bool empty() const { return samples_.empty(); }
  // The most recent sample; 0 when empty.
  double last() const {
    if (samples_.empty()) {
      return 0;
    }
    return samples_[(next_ + capacity_ - 1) % capacity_];
  }

  // Nearest-rank percentile (p in [0, 100]): the smallest sample with at least p % of the
  // samples at or below it. 0 when empty.
  double percentile(double p) const {
    if (samples_.empty()) {
      return 0;
    }
    scratch_ = samples_;
    size_t n = scratch_.size();
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
    size_t idx = rank == 0 ? 0 : std::min(rank, n) - 1;
    std::nth_element(scratch_.begin(), scratch_.begin() + static_cast<ptrdiff_t>(idx),
                     scratch_.end());
    return scratch_[idx];
  }
  double max() const {
    return samples_.empty() ? 0 : *std::max_element(samples_.begin(), samples_.end());
  }
  double mean() const {
    if (samples_.empty()) {
      return 0;
    }
    double sum = 0;
    for (double v : samples_) {
      sum += v;
    }
    return sum / static_cast<double>(samples_.size());
  }
  // Fraction of samples strictly above `threshold`.
  double fractionAbove(double threshold) const {
    if (samples_.empty()) {
      return 0;
    }
    size_t n = 0;
    for (double v : samples_) {
      n += v > threshold ? 1 : 0;
    }
    return static_cast<double>(n) / static_cast<double>(samples_.size());
  }

 private:
  size_t capacity_;
  size_t next_ = 0;
  std::vector<double> samples_;
  mutable std::vector<double> scratch_;
};

}  // namespace colo::policy
