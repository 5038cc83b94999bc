// colo-bpf-bench: loads the sched probe (no pinning by default), prints "ready" on stdout, and
// holds it until SIGINT/SIGTERM; then prints the BPF counters. scripts/bench-sched.sh measures
// the scheduler cost with and without it.
#include <gflags/gflags.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "bpf/sched_probe.h"
#include "common/cgroup_mounts.h"
#include "common/log.h"

DEFINE_bool(raw_tp, false, "force the raw_tp fallback programs");
DEFINE_bool(wakeup_delays, false,
            "force the wakeup delay source (sched_wakeup programs) instead of sched_info");
DEFINE_bool(pin, false, "pin the maps under --pin_dir");
DEFINE_string(pin_dir, "/sys/fs/bpf/colo-bench", "pin directory (with --pin)");
DEFINE_bool(track_unclassified, true, "measure cgroups without a tier too");
DEFINE_uint64(threshold_ns, 5000000, "LS-tier latency event threshold (0: none)");
DEFINE_bool(classify_own_cgroup, true,
            "mark this process's cgroup (where the benchmark runs) tier LS, so every event takes "
            "the full path (tier lookup, lower-tier check, threshold check)");

namespace {

// Inode of this process's cgroup in the attributed hierarchy ("N:cpu:/path" or "0::/path").
uint64_t ownCgroupId(const colo::CgroupMounts& mounts, bool v2) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) {
      continue;
    }
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    bool match =
        v2 ? controllers.empty()
           : (controllers == "cpu" || controllers.starts_with("cpu,") ||
              controllers.find(",cpu,") != std::string::npos || controllers.ends_with(",cpu"));
    if (!match) {
      continue;
    }
    auto mount = v2 ? std::optional<std::string>(mounts.unified) : mounts.mountFor("cpu");
    if (!mount) {
      return 0;
    }
    struct stat st {};
    if (::stat((*mount + path).c_str(), &st) != 0) {
      return 0;
    }
    return st.st_ino;
  }
  return 0;
}

}  // namespace

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
  options.force_wakeup_delays = FLAGS_wakeup_delays;
  options.track_unclassified = FLAGS_track_unclassified;
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
  if (FLAGS_classify_own_cgroup && mounts) {
    bool v2 = options.hierarchy == colo::bpf::Hierarchy::kV2;
    uint64_t id = ownCgroupId(*mounts, v2);
    if (id == 0) {
      colo::log::warn("bench", "cannot find this process's cgroup; leaving it unclassified");
    } else if (auto st = (*probe)->setTier({options.hierarchy, id}, colo::bpf::Tier::kLS); !st) {
      colo::log::warn("bench", "classify own cgroup: {}", st.error().message());
    }
  }
  std::printf("ready %s\n", (*probe)->attachMode());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  if (auto c = (*probe)->counters()) {
    std::printf(
        "counters: latency_events=%lu dropped_ratelimit=%lu storage_errors=%lu "
        "read_errors=%lu stats_map_full=%lu no_enqueue_time=%lu\n",
        c->latency_events, c->events_dropped_ratelimit, c->storage_errors, c->read_errors,
        c->stats_map_full, c->no_enqueue_time);
  }
  if (auto progs = (*probe)->programStats()) {
    for (const auto& p : *progs) {
      std::printf("prog %s run_cnt %lu run_time_ns %lu\n", p.name.c_str(), p.run_cnt,
                  p.run_time_ns);
    }
  }
  return 0;
}
