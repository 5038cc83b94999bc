#include "agent/cgroup_stats.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <string>

namespace colo::agent {
namespace {

// Calls on_field(key, value) for each "key value" line.
template <typename F>
Status forEachKeyValue(std::string_view text, F&& on_field) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty()) {
      continue;
    }
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) {
      return failInvalid(fmt::format("malformed line '{}'", line));
    }
    std::string_view key = line.substr(0, sp);
    std::string_view value = line.substr(sp + 1);
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc()) {
      return failInvalid(fmt::format("malformed value in '{}'", line));
    }
    on_field(key, v);
  }
  return ok();
}

Result<uint64_t> parseU64(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return failInvalid(fmt::format("not a number: '{}'", text));
  }
  return v;
}

// Trims trailing newlines and spaces.
std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return text;
}

Result<int64_t> parseI64(std::string_view text) {
  text = trimmed(text);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return failInvalid(fmt::format("not a number: '{}'", text));
  }
  return v;
}

// The value of the "key value" line of `text` whose key is exactly `key` (memory.stat: ~35 lines
// on v2, ~70 on v1, of which one is wanted: no parse of the others).
Result<uint64_t> statValue(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.size() > key.size() && line[key.size()] == ' ' && line.starts_with(key)) {
      return parseU64(line.substr(key.size() + 1));
    }
  }
  return failInvalid(fmt::format("no {} line", key));
}

}  // namespace

MemoryUsage memoryUsage(uint64_t usage_bytes, uint64_t inactive_file_bytes) {
  MemoryUsage out;
  out.usage_bytes = usage_bytes;
  out.inactive_file_bytes = inactive_file_bytes;
  // As kubelet: the inactive file pages are reclaimable, the rest is what the container holds.
  // The two files are read one after the other, so inactive may exceed usage: 0, not a wrap.
  out.working_set_bytes = usage_bytes > inactive_file_bytes ? usage_bytes - inactive_file_bytes : 0;
  return out;
}

Result<uint64_t> parseMemoryUsageBytes(std::string_view text) { return parseU64(text); }

Result<uint64_t> parseInactiveFile(std::string_view memory_stat, CgroupVersion version) {
  auto v = statValue(memory_stat,
                     version == CgroupVersion::kV2 ? "inactive_file" : "total_inactive_file");
  if (!v) {
    return fail(v.error().wrap("memory.stat"));
  }
  return v;
}

Result<std::optional<double>> parseCpuMax(std::string_view text) {
  text = trimmed(text);
  size_t sp = text.find(' ');
  if (sp == std::string_view::npos) {
    return failInvalid(fmt::format("cpu.max: expected '<quota|max> <period>', got '{}'", text));
  }
  auto period = parseI64(text.substr(sp + 1));
  if (!period || *period <= 0) {
    return failInvalid(fmt::format("cpu.max: bad period in '{}'", text));
  }
  std::string_view quota = text.substr(0, sp);
  if (quota == "max") {
    return std::optional<double>();
  }
  auto q = parseI64(quota);
  if (!q || *q <= 0) {
    return failInvalid(fmt::format("cpu.max: bad quota in '{}'", text));
  }
  return std::optional<double>(static_cast<double>(*q) / static_cast<double>(*period));
}

Result<std::optional<double>> parseCfsLimit(std::string_view quota_us, std::string_view period_us) {
  auto q = parseI64(quota_us);
  auto p = parseI64(period_us);
  if (!q || !p || *p <= 0) {
    return failInvalid(fmt::format("cfs_quota_us/cfs_period_us: bad values '{}' / '{}'",
                                   trimmed(quota_us), trimmed(period_us)));
  }
  if (*q < 0) {
    return std::optional<double>();  // -1: no limit
  }
  return std::optional<double>(static_cast<double>(*q) / static_cast<double>(*p));
}

Result<CpuStat> parseCpuStatV2(std::string_view text) {
  CpuStat out;
  bool have_usage = false;
  auto st = forEachKeyValue(text, [&](std::string_view key, uint64_t v) {
    if (key == "usage_usec") {
      out.usage_ns = v * 1000;
      have_usage = true;
    } else if (key == "nr_periods") {
      out.nr_periods = v;
    } else if (key == "nr_throttled") {
      out.nr_throttled = v;
    } else if (key == "throttled_usec") {
      out.throttled_ns = v * 1000;
    }
  });
  if (!st) {
    return fail(st.error().wrap("cpu.stat"));
  }
  if (!have_usage) {
    return failInvalid("cpu.stat: no usage_usec");
  }
  return out;
}

Result<CpuStat> parseCpuStatV1(std::string_view cpu_stat, std::string_view cpuacct_usage) {
  CpuStat out;
  auto st = forEachKeyValue(cpu_stat, [&](std::string_view key, uint64_t v) {
    if (key == "nr_periods") {
      out.nr_periods = v;
    } else if (key == "nr_throttled") {
      out.nr_throttled = v;
    } else if (key == "throttled_time") {
      out.throttled_ns = v;
    }
  });
  if (!st) {
    return fail(st.error().wrap("cpu.stat"));
  }
  auto usage = parseU64(cpuacct_usage);
  if (!usage) {
    return fail(usage.error().wrap("cpuacct.usage"));
  }
  out.usage_ns = *usage;
  return out;
}

Result<Pressure> parsePressure(std::string_view text) {
  Pressure out;
  bool have_some = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    bool some = line.starts_with("some ");
    bool full = line.starts_with("full ");
    if (!some && !full) {
      continue;
    }
    size_t pos = line.find("avg10=");
    if (pos == std::string_view::npos) {
      return failInvalid(fmt::format("cpu.pressure: no avg10 in '{}'", line));
    }
    std::string num(line.substr(pos + 6, line.find(' ', pos) - pos - 6));
    char* end = nullptr;
    double v = std::strtod(num.c_str(), &end);
    if (end == num.c_str()) {
      return failInvalid(fmt::format("cpu.pressure: bad avg10 in '{}'", line));
    }
    if (some) {
      out.some_avg10 = v;
      have_some = true;
    } else {
      out.full_avg10 = v;
    }
  }
  if (!have_some) {
    return failInvalid("cpu.pressure: no 'some' line");
  }
  return out;
}

}  // namespace colo::agent
