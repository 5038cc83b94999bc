// log2 run-queue delay histograms: percentiles and the text bar chart of `coloctl hist`.
// Bucket i counts delays d with 2^i <= d < 2^(i+1) ns (bucket 0 also takes d = 0), as in
// bpf/abi and docs/api.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

namespace colo::cli {

// Lower bound of bucket i in ns (0 for bucket 0), and its exclusive upper bound 2^(i+1).
uint64_t bucketLowNs(size_t i);
uint64_t bucketHighNs(size_t i);

// The pNN of the histogram reported as the upper bound of the bucket holding it (so it
// over-reports by at most 2x, like the agent's API). 0 when the histogram is empty.
// pct in (0, 100].
uint64_t histPercentileNs(std::span<const uint64_t> buckets, double pct);

// Bar chart, one line per bucket from the first to the last non-empty one:
//   "[1.02µs, 2.05µs)  123  12.3%  |#######"
// bar_width: characters of the longest bar. An empty histogram renders "(no samples)\n".
std::string renderHistogram(std::span<const uint64_t> buckets, size_t bar_width = 40);

// {"total", "p50_ns", "p90_ns", "p99_ns", "buckets": [{"low_ns","high_ns","count","percent"}]}
// with every bucket listed, so the shape does not depend on the data.
nlohmann::json histogramJson(std::span<const uint64_t> buckets);

}  // namespace colo::cli
