// colo-cgstat-bench: per-tick cost of reading every cgroup's CPU figures under a directory, two
// ways in one run: one read of the BPF cgroup iterator (CgroupStatIter) versus the agent's way,
// a pread(2) at offset 0 of each cgroup's cpu.stat and cpuacct.usage over fds kept open, with
// the figures parsed. Prints ns per tick and per cgroup for both, and their ratio.
// scripts/bench-cgstat.sh builds the tree; this creates nothing.
#include <dirent.h>
#include <fcntl.h>
#include <gflags/gflags.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/cgstat_iter.h"
#include "common/unique_fd.h"

DEFINE_string(dir, "", "cgroup directory in the cpu hierarchy (v1) or in cgroup v2 (required)");
DEFINE_string(cpuacct_dir, "",
              "the same cgroup in the v1 cpuacct hierarchy; empty: cpu.stat reads only (v2, or a "
              "v1 mount with cpu,cpuacct together: then give the same directory)");
DEFINE_int32(ticks, 2000, "ticks to time for each method (after 50 warm-up ticks)");

namespace {

using Clock = std::chrono::steady_clock;

struct CgroupFiles {
  colo::UniqueFd cpu_stat;
  colo::UniqueFd cpuacct_usage;
};

// `dir` and all its descendants, parents first (the order the iterator reports).
void walk(const std::string& dir, std::vector<std::string>* out) {
  out->push_back(dir);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return;
  }
  std::vector<std::string> children;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 &&
        std::strcmp(e->d_name, "..") != 0) {
      children.push_back(dir + "/" + e->d_name);
    }
  }
  ::closedir(d);
  std::sort(children.begin(), children.end());
  for (const auto& c : children) {
    walk(c, out);
  }
}

// The fields the agent takes from cpu.stat, parsed the way a line scanner would.
uint64_t parseCpuStat(std::string_view text) {
  uint64_t sum = 0;
  for (std::string_view key : {"nr_periods ", "nr_throttled ", "throttled_time "}) {
    auto pos = text.find(key);
    if (pos != std::string_view::npos) {
      sum += std::strtoull(text.data() + pos + key.size(), nullptr, 10);
    }
  }
  return sum;
}

ssize_t preadAll(int fd, char* buf, size_t size) {
  ssize_t n;
  do {
    n = ::pread(fd, buf, size - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) {
    buf[n] = '\0';
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("colo-cgstat-bench --dir=<cgroup dir> [--cpuacct_dir=<dir>]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_dir.empty() || FLAGS_ticks <= 0) {
    std::fprintf(stderr, "--dir is required and --ticks must be positive\n");
    return 2;
  }

  std::vector<std::string> dirs;
  walk(FLAGS_dir, &dirs);
  std::vector<CgroupFiles> files(dirs.size());
  for (size_t i = 0; i < dirs.size(); ++i) {
    files[i].cpu_stat.reset(::open((dirs[i] + "/cpu.stat").c_str(), O_RDONLY | O_CLOEXEC));
    if (!files[i].cpu_stat.valid()) {
      std::fprintf(stderr, "open %s/cpu.stat: %s\n", dirs[i].c_str(), std::strerror(errno));
      return 1;
    }
    if (!FLAGS_cpuacct_dir.empty()) {
      std::string acct = FLAGS_cpuacct_dir + dirs[i].substr(FLAGS_dir.size()) + "/cpuacct.usage";
      files[i].cpuacct_usage.reset(::open(acct.c_str(), O_RDONLY | O_CLOEXEC));
      if (!files[i].cpuacct_usage.valid()) {
        std::fprintf(stderr, "open %s: %s\n", acct.c_str(), std::strerror(errno));
        return 1;
      }
    }
  }

  auto iter = colo::bpf::CgroupStatIter::open(FLAGS_dir);
  if (!iter) {
    std::fprintf(stderr, "%s\n", iter.error().message().c_str());
    return 1;
  }
  std::vector<colo::bpf::CgroupCpuFigures> figures;
  figures.reserve(dirs.size() * 2);

  uint64_t sink = 0;  // keeps the parsed figures alive
  auto preadTick = [&]() -> bool {
    char buf[4096];
    for (auto& f : files) {
      if (preadAll(f.cpu_stat.get(), buf, sizeof(buf)) < 0) {
        return false;
      }
      sink += parseCpuStat(buf);
      if (f.cpuacct_usage.valid()) {
        if (preadAll(f.cpuacct_usage.get(), buf, sizeof(buf)) < 0) {
          return false;
        }
        sink += std::strtoull(buf, nullptr, 10);
      }
    }
    return true;
  };
  auto iterTick = [&]() -> bool {
    auto st = (*iter)->read(&figures);
    if (!st) {
      std::fprintf(stderr, "%s\n", st.error().message().c_str());
      return false;
    }
    for (const auto& f : figures) {
      sink += f.usage_ns + f.nr_periods + f.nr_throttled + f.throttled_ns;
    }
    return true;
  };
  // Alternate the two in blocks so drift (frequency, other load) hits both alike.
  constexpr int kWarmup = 50;
  constexpr int kBlock = 100;
  for (int i = 0; i < kWarmup; ++i) {
    if (!preadTick() || !iterTick()) {
      return 1;
    }
  }
  Clock::duration t_pread{};
  Clock::duration t_iter{};
  for (int done = 0; done < FLAGS_ticks; done += kBlock) {
    int n = std::min(kBlock, FLAGS_ticks - done);
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      if (!preadTick()) {
        std::fprintf(stderr, "pread: %s\n", std::strerror(errno));
        return 1;
      }
    }
    auto t1 = Clock::now();
    for (int i = 0; i < n; ++i) {
      if (!iterTick()) {
        return 1;
      }
    }
    t_pread += t1 - t0;
    t_iter += Clock::now() - t1;
  }
  if (figures.size() != dirs.size()) {
    std::fprintf(stderr, "warning: iterator saw %zu cgroups, the directory walk %zu\n",
                 figures.size(), dirs.size());
  }

  auto ns = [](Clock::duration d) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  };
  double ticks = FLAGS_ticks;
  double cgroups = static_cast<double>(dirs.size());
  double pread_tick = ns(t_pread) / ticks;
  double iter_tick = ns(t_iter) / ticks;
  int syscalls = FLAGS_cpuacct_dir.empty() ? 1 : 2;
  std::printf("cgroups %zu (under %s), ticks %d, sink %llu\n", dirs.size(), FLAGS_dir.c_str(),
              FLAGS_ticks, static_cast<unsigned long long>(sink % 10));
  std::printf("%-34s %12s %14s\n", "method", "ns/tick", "ns/cgroup");
  std::printf("%-34s %12.0f %14.1f\n",
              syscalls == 2 ? "pread cpu.stat + cpuacct.usage" : "pread cpu.stat", pread_tick,
              pread_tick / cgroups);
  std::printf("%-34s %12.0f %14.1f\n", "BPF cgroup iterator (one read)", iter_tick,
              iter_tick / cgroups);
  std::printf("ratio pread/iterator %.1fx\n", pread_tick / iter_tick);
  return 0;
}
