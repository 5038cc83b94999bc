#include "common/log.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>

namespace colo::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::mutex g_write_mu;

int64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

char levelChar(Level level) {
  switch (level) {
    case Level::kDebug:
      return 'D';
    case Level::kInfo:
      return 'I';
    case Level::kWarn:
      return 'W';
    case Level::kError:
      return 'E';
  }
  return '?';
}

}  // namespace

void setLevel(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

bool parseLevel(std::string_view text, Level* out) {
  if (text == "debug") {
    *out = Level::kDebug;
  } else if (text == "info") {
    *out = Level::kInfo;
  } else if (text == "warn") {
    *out = Level::kWarn;
  } else if (text == "error") {
    *out = Level::kError;
  } else {
    return false;
  }
  return true;
}

void write(Level level, std::string_view component, std::string_view message) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line = fmt::format("{}.{:03d}Z {} {}: {}\n", stamp, ts.tv_nsec / 1000000,
                                 levelChar(level), component, message);
  std::lock_guard<std::mutex> lock(g_write_mu);
  ::fwrite(line.data(), 1, line.size(), stderr);
}

bool RateLimit::allow() {
  int64_t now = monotonicNs();
  int64_t next = next_ns_.load(std::memory_order_relaxed);
  if (now >= next && next_ns_.compare_exchange_strong(next, now + interval_ns_)) {
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace colo::log
