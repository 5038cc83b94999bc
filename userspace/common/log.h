// Logging: leveled lines on stderr ("2026-11-22T11:40:01.123Z W agent: message"), and a
// rate limiter so an expected failure repeating every tick is logged once per interval.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace colo::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void setLevel(Level level);
Level level();
// Parses "debug", "info", "warn", "error"; returns false for anything else.
bool parseLevel(std::string_view text, Level* out);
void write(Level level, std::string_view component, std::string_view message);

template <typename... Args>
void debug(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level() <= Level::kDebug) {
    write(Level::kDebug, component, fmt::format(fmt, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void info(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level() <= Level::kInfo) {
    write(Level::kInfo, component, fmt::format(fmt, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void warn(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level() <= Level::kWarn) {
    write(Level::kWarn, component, fmt::format(fmt, std::forward<Args>(args)...));
  }
}
template <typename... Args>
void error(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  write(Level::kError, component, fmt::format(fmt, std::forward<Args>(args)...));
}

// RateLimit: allow() is true at most once per interval; suppressed() says how many calls were
// dropped since the last allowed one. Thread-safe.
class RateLimit {
 public:
  explicit RateLimit(std::chrono::milliseconds interval)
      : interval_ns_(interval.count() * 1000000) {}
  bool allow();
  uint64_t takeSuppressed() { return suppressed_.exchange(0); }

 private:
  int64_t interval_ns_;
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace colo::log
