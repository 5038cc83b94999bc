#include "cli/histogram.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cli/format.h"

namespace colo::cli {

uint64_t bucketLowNs(size_t i) { return i == 0 ? 0 : (uint64_t{1} << i); }

uint64_t bucketHighNs(size_t i) { return uint64_t{1} << (i + 1); }

uint64_t histPercentileNs(std::span<const uint64_t> buckets, double pct) {
  uint64_t total = 0;
  for (uint64_t c : buckets) {
    total += c;
  }
  if (total == 0) {
    return 0;
  }
  // The rank of the pNN sample, 1-based: the smallest rank r with r >= pct% of total.
  auto rank = static_cast<uint64_t>(std::ceil(static_cast<double>(total) * pct / 100.0));
  rank = std::clamp<uint64_t>(rank, 1, total);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= rank) {
      return bucketHighNs(i);
    }
  }
  return bucketHighNs(buckets.size() - 1);
}

std::string renderHistogram(std::span<const uint64_t> buckets, size_t bar_width) {
  uint64_t total = 0;
  uint64_t peak = 0;
  size_t first = buckets.size();
  size_t last = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    total += buckets[i];
    peak = std::max(peak, buckets[i]);
    if (buckets[i] != 0) {
      first = std::min(first, i);
      last = i;
    }
  }
  if (total == 0) {
    return "(no samples)\n";
  }
  Table table({{"range", Table::Align::kLeft},
               {"count", Table::Align::kRight},
               {"percent", Table::Align::kRight},
               {"", Table::Align::kLeft}});
  for (size_t i = first; i <= last; ++i) {
    // Bars round up so that a non-empty bucket always shows at least one mark.
    size_t bar =
        buckets[i] == 0 ? 0 : static_cast<size_t>((buckets[i] * bar_width + peak - 1) / peak);
    table.addRow(
        {fmt::format("[{}, {})", formatDuration(bucketLowNs(i)), formatDuration(bucketHighNs(i))),
         fmt::format("{}", buckets[i]),
         formatPercent(100.0 * static_cast<double>(buckets[i]) / static_cast<double>(total)),
         "|" + std::string(bar, '#')});
  }
  return table.render();
}

nlohmann::json histogramJson(std::span<const uint64_t> buckets) {
  uint64_t total = 0;
  for (uint64_t c : buckets) {
    total += c;
  }
  nlohmann::json out;
  out["total"] = total;
  out["p50_ns"] = histPercentileNs(buckets, 50);
  out["p90_ns"] = histPercentileNs(buckets, 90);
  out["p99_ns"] = histPercentileNs(buckets, 99);
  auto list = nlohmann::json::array();
  for (size_t i = 0; i < buckets.size(); ++i) {
    double pct =
        total == 0 ? 0.0 : 100.0 * static_cast<double>(buckets[i]) / static_cast<double>(total);
    list.push_back({{"low_ns", bucketLowNs(i)},
                    {"high_ns", bucketHighNs(i)},
                    {"count", buckets[i]},
                    {"percent", std::round(pct * 100.0) / 100.0}});
  }
  out["buckets"] = std::move(list);
  return out;
}

}  // namespace colo::cli
