// colo-pingpong: the equivalent of `perf bench sched pipe` for hosts without perf. Two processes
// pass one byte back and forth over two pipes `loops` times (pin both to one CPU with taskset);
// prints "<usecs> usecs/op" like perf. Each round trip is 2 wakeups + 2 context switches.
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  long loops = argc > 1 ? std::atol(argv[1]) : 1000000;
  int ping[2];
  int pong[2];
  if (pipe(ping) != 0 || pipe(pong) != 0) {
    std::perror("pipe");
    return 1;
  }
  char b = 0;
  pid_t child = fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    for (long i = 0; i < loops; ++i) {
      if (read(ping[0], &b, 1) != 1 || write(pong[1], &b, 1) != 1) {
        _exit(1);
      }
    }
    _exit(0);
  }
  timespec start{};
  timespec end{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < loops; ++i) {
    if (write(ping[1], &b, 1) != 1 || read(pong[0], &b, 1) != 1) {
      std::perror("pingpong");
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  int status = 0;
  waitpid(child, &status, 0);
  double us = (end.tv_sec - start.tv_sec) * 1e6 + (end.tv_nsec - start.tv_nsec) / 1e3;
  std::printf("%ld round trips in %.3f s\n%14.6f usecs/op\n", loops, us / 1e6, us / loops);
  return 0;
}
