// Workloads for the sched probe tests.
//   colo_sched_helper spin               burns CPU forever (the BE hog)
//   colo_sched_helper sleeper <us> [work_us]
//                                        sleeps <us> microseconds, wakes and burns work_us of CPU
//                                        time (default 0), forever (the LS probe)
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "spin") == 0) {
    volatile unsigned long n = 0;
    for (;;) {
      n = n + 1;
    }
  }
  if (argc >= 3 && std::strcmp(argv[1], "sleeper") == 0) {
    long us = std::atol(argv[2]);
    long work_ns = argc >= 4 ? std::atol(argv[3]) * 1000 : 0;
    timespec ts{us / 1000000, (us % 1000000) * 1000};
    auto cpu_ns = [] {
      timespec t{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
      return t.tv_sec * 1000000000L + t.tv_nsec;
    };
    for (;;) {
      clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
      // CPU time, not wall time: a wait for the CPU does not count as work done.
      for (long end = cpu_ns() + work_ns; work_ns > 0 && cpu_ns() < end;) {
      }
    }
  }
  std::fprintf(stderr, "usage: %s spin | sleeper <us> [work_us]\n", argv[0]);
  return 2;
}
