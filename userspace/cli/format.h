// Output helpers for coloctl: human units and aligned text tables. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace colo::cli {

// Duration in ns with three significant digits and a unit: "512ns", "15.0µs", "1.05ms", "2.00s".
std::string formatDuration(uint64_t ns);
// Count with a K/M/G suffix above 9999: "123", "9999", "12.3K", "4.56M".
std::string formatCount(uint64_t n);
// Percentage with one decimal: "2.1%".
std::string formatPercent(double pct);
// Cores with two decimals: "0.53".
std::string formatCores(double cores);
// Bytes in binary units with three significant digits: "512B", "1.00Ki", "64.0Mi", "1.25Gi".
std::string formatBytes(uint64_t bytes);

// Table label of a container: "pod<uid>/<first 12 of the container id>" (the short id docker and
// crictl print), "pod<uid>" for a pod cgroup; `fallback` (a path) outside Kubernetes.
std::string shortContainerName(std::string_view pod_uid, std::string_view container_id,
                               std::string_view fallback);

// Columns shown on a terminal: UTF-8 code points (every one counted as one column).
size_t displayWidth(std::string_view s);
// Cuts `s` to at most `width` columns, keeping its head and tail around "…" (ids differ at both
// ends). width 0 means no limit.
std::string truncateMiddle(std::string_view s, size_t width);

// A table of text cells with aligned columns, two spaces apart, no trailing blanks.
class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
    size_t max_width = 0;  // cells longer than this are cut in the middle; 0: no limit
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // Adds a row; missing cells are blank, extra cells are dropped.
  void addRow(std::vector<std::string> cells);
  size_t rowCount() const { return rows_.size(); }
  // Header line then one line per row, each ending in '\n'.
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace colo::cli
