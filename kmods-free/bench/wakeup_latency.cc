// colo_wakeup_latency: an LS-like probe for scripts/bench-kmods.sh. Pinned to one CPU, it sleeps
// until an absolute deadline every --interval-us, then spins --work-us (a request's work), and
// records how late it woke: the run-queue delay a competing task on that CPU inflicted on it
// (timer slack is set to 1 ns so the timer itself adds next to nothing).
//
//   colo_wakeup_latency --cpu 0 --interval-us 1000 --work-us 50 --duration-s 5 --out lat.txt
//
// Writes one wakeup latency in nanoseconds per line to --out and prints a summary line.
// --slice-ns N gives the probe an EEVDF slice of N ns first (sched_runtime, Linux 6.12+).
// --spin instead makes it the BE hog: a busy loop on --cpu (with --slice-ns if given), forever.
#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kmods-free/task_slice.h"

namespace {

int64_t toNs(const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

timespec fromNs(int64_t ns) {
  return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

int64_t nowNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return toNs(t);
}

}  // namespace

int main(int argc, char** argv) {
  int cpu = 0;
  int64_t interval_us = 1000;
  int64_t work_us = 50;
  double duration_s = 5;
  std::string out_file;
  uint64_t slice_ns = 0;
  bool spin = false;
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--spin") {
      spin = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", argv[i]);
      return 2;
    }
    const char* v = argv[i + 1];
    if (a == "--slice-ns") {
      slice_ns = std::strtoull(v, nullptr, 10);
    } else if (a == "--cpu") {
      cpu = std::atoi(v);
    } else if (a == "--interval-us") {
      interval_us = std::atoll(v);
    } else if (a == "--work-us") {
      work_us = std::atoll(v);
    } else if (a == "--duration-s") {
      duration_s = std::atof(v);
    } else if (a == "--out") {
      out_file = v;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    std::perror("sched_setaffinity");
    return 1;
  }
  if (slice_ns != 0) {
    colo::kmods::SchedOps ops = colo::kmods::realSchedOps();
    int tid = static_cast<int>(gettid());
    auto cur = ops.get(tid);
    colo::Status st = cur ? ops.set(tid, *cur, slice_ns) : colo::Status(colo::fail(cur.error()));
    if (!st) {
      std::fprintf(stderr, "--slice-ns: %s\n", st.error().message().c_str());
      return 1;
    }
  }
  if (spin) {
    for (;;) {
      asm volatile("" ::: "memory");  // a busy loop the compiler keeps
    }
  }
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::vector<int64_t> lat;
  lat.reserve(static_cast<size_t>(duration_s * 1e6 / static_cast<double>(interval_us)) + 16);
  int64_t start = nowNs();
  int64_t end = start + static_cast<int64_t>(duration_s * 1e9);
  int64_t next = start + interval_us * 1000;
  while (next < end) {
    timespec ts = fromNs(next);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
    }
    int64_t woke = nowNs();
    lat.push_back(woke - next);
    // The request's work, then the next deadline (skipping ones already missed).
    while (nowNs() - woke < work_us * 1000) {
    }
    next += interval_us * 1000;
    int64_t t = nowNs();
    while (next <= t) {
      next += interval_us * 1000;
    }
  }
  if (!out_file.empty()) {
    FILE* f = std::fopen(out_file.c_str(), "w");
    if (f == nullptr) {
      std::perror(out_file.c_str());
      return 1;
    }
    for (int64_t l : lat) {
      std::fprintf(f, "%lld\n", static_cast<long long>(l));
    }
    std::fclose(f);
  }
  std::vector<int64_t> s = lat;
  std::sort(s.begin(), s.end());
  auto pct = [&](double p) {
    return s.empty()
               ? 0.0
               : static_cast<double>(s[std::min(s.size() - 1, static_cast<size_t>(p * s.size()))]) /
                     1000.0;
  };
  std::printf("samples=%zu p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n", s.size(), pct(0.50),
              pct(0.99), pct(0.999), s.empty() ? 0.0 : s.back() / 1000.0);
  return 0;
}
