// A stand-in for colod's enforcement loop, for the executor's crash test: probes the kernel,
// reconciles the state directory, then applies crashPlan(0), crashPlan(1), ... through the
// kmods-free backend until SIGTERM (restores everything, exits 0) or SIGKILL (the test's crash).
//
//   executor_crash_helper --state-dir DIR --top colo-test-x-123 [--reconcile-only]
//
// Prints "reconciled restored=R vanished=V errors=E" after start-up and "applied N" after each
// plan, flushing stdout, so the test can kill it mid-adjustment.
#include <signal.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "agent/executor/executor.h"
#include "common/fs.h"
#include "e2e/executor/crash_plan.h"
#include "kmods-free/backend.h"
#include "kmods-free/feature_probe.h"

int main(int argc, char** argv) {
  std::string state_dir;
  std::string top;
  bool reconcile_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--state-dir" && i + 1 < argc) {
      state_dir = argv[++i];
    } else if (a == "--top" && i + 1 < argc) {
      top = argv[++i];
    } else if (a == "--reconcile-only") {
      reconcile_only = true;
    } else {
      std::fprintf(stderr, "usage: %s --state-dir DIR --top NAME [--reconcile-only]\n", argv[0]);
      return 2;
    }
  }
  if (state_dir.empty() || (top.empty() && !reconcile_only)) {
    std::fprintf(stderr, "--state-dir and --top are required\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);

  colo::RealFs fs;
  colo::executor::ExecutorOptions opts;
  opts.state_dir = state_dir;
  opts.max_writes_per_sec = 1000;
  auto ex = colo::executor::Executor::open(fs, opts);
  if (!ex) {
    std::fprintf(stderr, "executor: %s\n", ex.error().message().c_str());
    return 1;
  }
  auto rep = (*ex)->reconcile();
  if (!rep) {
    std::fprintf(stderr, "reconcile: %s\n", rep.error().message().c_str());
    return 1;
  }
  std::printf("reconciled restored=%zu vanished=%zu errors=%zu\n", rep->restored, rep->vanished,
              rep->errors.size());
  for (const auto& e : rep->errors) {
    std::printf("error %s\n", e.c_str());
  }
  std::fflush(stdout);
  if (reconcile_only) {
    return rep->ok() ? 0 : 1;
  }
  auto features = colo::kmods::probeKernel();
  if (!features) {
    std::fprintf(stderr, "probe: %s\n", features.error().message().c_str());
    return 1;
  }
  colo::kmods::Backend backend(*features, fs, **ex);
  for (int n = 0;; ++n) {
    auto r = backend.apply(colo::test::crashPlan(top, n));
    for (const auto& e : r.errors) {
      std::fprintf(stderr, "apply %d: %s\n", n, e.c_str());
    }
    std::printf("applied %d failed=%zu\n", n, r.failed);
    std::fflush(stdout);
    timespec wait{0, 2'000'000};
    if (sigtimedwait(&set, nullptr, &wait) > 0) {
      auto all = (*ex)->restoreAll("SIGTERM");
      std::printf("restored %zu errors=%zu\n", all.restored, all.errors.size());
      std::fflush(stdout);
      return all.ok() ? 0 : 1;
    }
  }
}
