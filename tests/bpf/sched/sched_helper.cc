// Workloads for the sched probe tests.
//   colo_sched_helper spin               burns CPU forever (the BE hog)
//   colo_sched_helper sleeper <us>       sleeps <us> microseconds and wakes, forever (the LS probe)
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
    timespec ts{us / 1000000, (us % 1000000) * 1000};
    for (;;) {
      clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
    }
  }
  std::fprintf(stderr, "usage: %s spin | sleeper <us>\n", argv[0]);
  return 2;
}
