#include "cli/format.h"

#include <fmt/format.h>

#include <algorithm>

namespace colo::cli {
namespace {

// Three significant digits of value/unit: "1.05", "15.0", "512".
std::string threeDigits(double v) {
  if (v < 9.995) {
    return fmt::format("{:.2f}", v);
  }
  if (v < 99.95) {
    return fmt::format("{:.1f}", v);
  }
  return fmt::format("{:.0f}", v);
}

}  // namespace

std::string formatDuration(uint64_t ns) {
  if (ns < 1000) {
    return fmt::format("{}ns", ns);
  }
  double v = static_cast<double>(ns);
  // Rounding may carry into the next unit ("999.9µs" would print "1000µs"): move up then.
  if (v < 999.5e3) {
    return threeDigits(v / 1e3) + "µs";
  }
  if (v < 999.5e6) {
    return threeDigits(v / 1e6) + "ms";
  }
  return threeDigits(v / 1e9) + "s";
}

std::string formatCount(uint64_t n) {
  if (n < 10000) {
    return fmt::format("{}", n);
  }
  double v = static_cast<double>(n);
  if (v < 999.5e3) {
    return threeDigits(v / 1e3) + "K";
  }
  if (v < 999.5e6) {
    return threeDigits(v / 1e6) + "M";
  }
  if (v < 999.5e9) {
    return threeDigits(v / 1e9) + "G";
  }
  return threeDigits(v / 1e12) + "T";
}

std::string formatPercent(double pct) { return fmt::format("{:.1f}%", pct); }

std::string formatCores(double cores) { return fmt::format("{:.2f}", cores); }

std::string formatBytes(uint64_t bytes) {
  if (bytes < 1024) {
    return fmt::format("{}B", bytes);
  }
  double v = static_cast<double>(bytes);
  // Move up a unit where three digits would round to 1000 ("1000Ki").
  for (const char* unit : {"Ki", "Mi", "Gi", "Ti"}) {
    v /= 1024;
    if (v < 999.5 || std::string_view(unit) == "Ti") {
      return threeDigits(v) + unit;
    }
  }
  return {};
}

std::string shortContainerName(std::string_view pod_uid, std::string_view container_id,
                               std::string_view fallback) {
  if (pod_uid.empty()) {
    return std::string(fallback);
  }
  std::string out = "pod" + std::string(pod_uid);
  if (!container_id.empty()) {
    out += "/";
    out += container_id.substr(0, 12);
  }
  return out;
}

size_t displayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) {  // not a continuation byte
      ++n;
    }
  }
  return n;
}

namespace {

// Byte offset just past the first `cols` code points of s.
size_t bytesForColumns(std::string_view s, size_t cols) {
  size_t i = 0;
  size_t seen = 0;
  while (i < s.size()) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == cols) {
        break;
      }
      ++seen;
    }
    ++i;
  }
  return i;
}

}  // namespace

std::string truncateMiddle(std::string_view s, size_t width) {
  size_t w = displayWidth(s);
  if (width == 0 || w <= width) {
    return std::string(s);
  }
  if (width == 1) {
    return "…";
  }
  size_t keep = width - 1;
  size_t head = (keep + 1) / 2;
  size_t tail = keep - head;
  std::string out(s.substr(0, bytesForColumns(s, head)));
  out += "…";
  out += s.substr(bytesForColumns(s, w - tail));
  return out;
}

void Table::addRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    cells[i] = truncateMiddle(cells[i], columns_[i].max_width);
  }
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  std::vector<size_t> widths(columns_.size(), 0);
  for (size_t i = 0; i < columns_.size(); ++i) {
    widths[i] = displayWidth(columns_[i].header);
    for (const auto& row : rows_) {
      widths[i] = std::max(widths[i], displayWidth(row[i]));
    }
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      size_t pad = widths[i] - displayWidth(cells[i]);
      if (i > 0) {
        line += "  ";
      }
      if (columns_[i].align == Align::kRight) {
        line.append(pad, ' ');
        line += cells[i];
      } else {
        line += cells[i];
        line.append(pad, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line;
    out += '\n';
  };
  std::vector<std::string> header;
  header.reserve(columns_.size());
  for (const auto& c : columns_) {
    header.push_back(c.header);
  }
  emit(header);
  for (const auto& row : rows_) {
    emit(row);
  }
  return out;
}

}  // namespace colo::cli
