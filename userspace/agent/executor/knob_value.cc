#include "agent/executor/knob_value.h"

#include <charconv>
#include <cstdint>
#include <vector>

namespace colo::executor {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view baseName(std::string_view path) {
  auto pos = path.rfind('/');
  return pos == std::string_view::npos ? path : path.substr(pos + 1);
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && s[pos] == ' ') {
      ++pos;
    }
    size_t end = s.find(' ', pos);
    if (end == std::string_view::npos) {
      end = s.size();
    }
    if (end > pos) {
      out.push_back(s.substr(pos, end - pos));
    }
    pos = end;
  }
  return out;
}

bool parseInt(std::string_view s, int64_t* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool isCpuList(std::string_view name) {
  return name == "cpuset.cpus" || name == "cpuset.mems" || name == "cpuset.cpus.exclusive";
}

bool isMemoryBytes(std::string_view name) {
  return name.starts_with("memory.") &&
         (name.ends_with("_in_bytes") || name == "memory.high" || name == "memory.max" ||
          name == "memory.low" || name == "memory.min" || name == "memory.swap.max");
}

// "max" and the v1 "unlimited" sentinels (-1 written, PAGE_COUNTER_MAX*PAGE_SIZE read back).
bool isUnlimitedMemory(std::string_view v) {
  if (v == "max" || v == "-1") {
    return true;
  }
  int64_t n = 0;
  return parseInt(v, &n) && n >= (int64_t{1} << 62);
}

}  // namespace

bool parseCpuList(std::string_view text, std::set<int>* out) {
  out->clear();
  text = trim(text);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view item = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (item.empty()) {
      continue;
    }
    int64_t lo = 0;
    int64_t hi = 0;
    if (auto dash = item.find('-'); dash != std::string_view::npos) {
      if (!parseInt(item.substr(0, dash), &lo) || !parseInt(item.substr(dash + 1), &hi)) {
        return false;
      }
    } else if (parseInt(item, &lo)) {
      hi = lo;
    } else {
      return false;
    }
    if (lo < 0 || hi < lo || hi > 65535) {
      return false;
    }
    for (int64_t c = lo; c <= hi; ++c) {
      out->insert(static_cast<int>(c));
    }
  }
  return true;
}

std::string formatCpuList(const std::set<int>& cpus) {
  std::string out;
  auto it = cpus.begin();
  while (it != cpus.end()) {
    int lo = *it;
    int hi = lo;
    ++it;
    while (it != cpus.end() && *it == hi + 1) {
      hi = *it;
      ++it;
    }
    if (!out.empty()) {
      out += ',';
    }
    out += std::to_string(lo);
    if (hi != lo) {
      out += '-';
      out += std::to_string(hi);
    }
  }
  return out;
}

std::string writableForm(std::string_view path, std::string_view raw) {
  std::string_view v = trim(raw);
  std::string_view name = baseName(path);
  if (name == "cpuset.cpus.partition") {
    // "root invalid (Parent is not a partition root)" is written back as "root".
    auto w = words(v);
    return w.empty() ? std::string() : std::string(w[0]);
  }
  return std::string(v);
}

bool knobMatches(std::string_view path, std::string_view want_raw, std::string_view got_raw) {
  std::string_view want = trim(want_raw);
  std::string_view got = trim(got_raw);
  if (want == got) {
    return true;
  }
  std::string_view name = baseName(path);
  if (isCpuList(name)) {
    std::set<int> a;
    std::set<int> b;
    return parseCpuList(want, &a) && parseCpuList(got, &b) && a == b;
  }
  if (name == "cpu.max") {
    // Writing "max" or "50000" keeps the period; the kernel prints "<quota> <period>".
    auto w = words(want);
    auto g = words(got);
    if (w.size() == 1 && g.size() == 2) {
      return w[0] == g[0];
    }
    return w == g;
  }
  if (name == "cpuset.cpus.partition") {
    auto g = words(got);
    return !g.empty() && g[0] == want && g.size() == 1;
  }
  if (isMemoryBytes(name)) {
    if (isUnlimitedMemory(want) && isUnlimitedMemory(got)) {
      return true;
    }
    int64_t w = 0;
    int64_t g = 0;
    // The kernel rounds byte limits down to whole pages.
    return parseInt(want, &w) && parseInt(got, &g) && g <= w && w - g < 65536;
  }
  return false;
}

}  // namespace colo::executor
