// colo-bpf-bench: loads the sched probe (no pinning by default), prints "ready" on stdout, and
// holds it until SIGINT/SIGTERM; then prints the BPF counters. scripts/bench-sched.sh measures
// the scheduler cost with and without it.
#include <gflags/gflags.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "bpf/sched_probe.h"
#include "common/cgroup_mounts.h"
#include "common/log.h"

DEFINE_bool(raw_tp, false, "force the raw_tp fallback programs");
DEFINE_bool(pin, false, "pin the maps under --pin_dir");
DEFINE_string(pin_dir, "/sys/fs/bpf/colo-bench", "pin directory (with --pin)");
DEFINE_uint64(threshold_ns, 0, "LS-tier latency event threshold (0: none)");

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);

  colo::bpf::ProbeOptions options;
  options.pin = FLAGS_pin;
  options.pin_dir = FLAGS_pin_dir;
  options.force_raw_tp = FLAGS_raw_tp;
  auto mounts = colo::detectCgroupMounts();
  if (mounts && mounts->cpuVersion() == colo::CgroupVersion::kV2) {
    options.hierarchy = colo::bpf::Hierarchy::kV2;
  }
  auto probe = colo::bpf::SchedProbe::load(options);
  if (!probe) {
    colo::log::error("bench", "{}", probe.error().message());
    return 1;
  }
  if (FLAGS_threshold_ns > 0) {
    (void)(*probe)->setThreshold(colo::bpf::Tier::kLS, FLAGS_threshold_ns);
  }
  std::printf("ready %s\n", (*probe)->attachMode());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  if (auto c = (*probe)->counters()) {
    std::printf(
        "counters: latency_events=%lu dropped_ratelimit=%lu storage_errors=%lu "
        "read_errors=%lu stats_map_full=%lu\n",
        c->latency_events, c->events_dropped_ratelimit, c->storage_errors, c->read_errors,
        c->stats_map_full);
  }
  return 0;
}
