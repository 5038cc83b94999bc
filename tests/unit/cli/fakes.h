// Fakes of coloctl's sources for unit tests: pinned maps in memory, a canned colod, FakeFs.
#pragma once

#include <sstream>

#include "cli/cli.h"
#include "cli/sources.h"
#include "common/fs.h"

namespace colo::cli::test {

struct FakeMaps {
  std::vector<bpf::CgroupSchedStats> stats;
  std::vector<std::pair<bpf::CgroupRef, bpf::Tier>> tiers;
  std::array<uint64_t, bpf::kTierCount> thresholds{};
  bpf::ProbeCounters counters;
  std::vector<bpf::CgroupName> names;
  int open_error = 0;  // errno open_maps fails with
};

class FakeMapReader final : public MapReader {
 public:
  explicit FakeMapReader(const FakeMaps& m) : m_(m) {}
  Result<std::vector<bpf::CgroupSchedStats>> readStats() override { return m_.stats; }
  Result<std::vector<std::pair<bpf::CgroupRef, bpf::Tier>>> readTiers() override {
    return m_.tiers;
  }
  Result<std::array<uint64_t, bpf::kTierCount>> readThresholds() override { return m_.thresholds; }
  Result<bpf::ProbeCounters> counters() override { return m_.counters; }
  Result<std::vector<bpf::CgroupName>> readCgroupNames() override { return m_.names; }

 private:
  const FakeMaps& m_;
};

struct FakeAgent {
  std::string body;
  int connect_error = 0;
  int gets = 0;
};

class FakeAgentClient final : public AgentClient {
 public:
  explicit FakeAgentClient(FakeAgent& a) : a_(a) {}
  Result<std::string> get(std::string_view path) override {
    ++a_.gets;
    if (path != "/v1/containers") {
      return fail(Error(EIO, "HTTP 404"));
    }
    return a_.body;
  }

 private:
  FakeAgent& a_;
};

inline constexpr const char* kCpuRoot = "/sys/fs/cgroup/cpu";

// A world with FakeFs cgroups under kCpuRoot, fake maps and a fake colod.
struct World {
  FakeFs fs;
  FakeMaps maps;
  FakeAgent agent;
  std::vector<std::string> opened_pin_dirs;
  std::vector<int64_t> sleeps_ms;
  CliEnv env;
  std::ostringstream out, err;

  World() {
    fs.mkdirs(kCpuRoot);
    env.open_maps = [this](const std::string& dir) -> Result<std::unique_ptr<MapReader>> {
      opened_pin_dirs.push_back(dir);
      if (maps.open_error != 0) {
        return failErrno(maps.open_error, "open " + dir + "/stats");
      }
      return std::make_unique<FakeMapReader>(maps);
    };
    env.connect_agent = [this](const std::string& sock) -> Result<std::unique_ptr<AgentClient>> {
      if (agent.connect_error != 0) {
        return failErrno(agent.connect_error, "connect " + sock);
      }
      return std::make_unique<FakeAgentClient>(agent);
    };
    env.fs = &fs;
    env.detect_mounts = [] {
      CgroupMounts m;
      m.v1["cpu"] = kCpuRoot;
      m.unified = "/sys/fs/cgroup/unified";
      return Result<CgroupMounts>(m);
    };
    env.classify = [](std::string_view path) {
      // Enough of the kubepods layout for tests: /kubepods/<qos>/pod<uid>[/<id>].
      CgroupIdentity id;
      auto pos = path.find("/pod");
      if (!path.starts_with("/kubepods") || pos == std::string_view::npos) {
        return id;
      }
      std::string_view rest = path.substr(pos + 4);
      auto slash = rest.find('/');
      id.pod_uid = std::string(rest.substr(0, slash));
      if (slash != std::string_view::npos) {
        id.container_id = std::string(rest.substr(slash + 1));
      }
      id.qos = path.starts_with("/kubepods/besteffort") ? "besteffort" : "burstable";
      return id;
    };
    env.sleep = [this](std::chrono::milliseconds d) { sleeps_ms.push_back(d.count()); };
  }

  // Creates the cgroup directory and returns its id (inode).
  uint64_t cgroup(const std::string& rel) {
    fs.mkdirs(joinPath(kCpuRoot, rel));
    return *fs.inode(joinPath(kCpuRoot, rel));
  }

  int run(std::vector<std::string> argv) {
    out.str("");
    err.str("");
    CliContext ctx;
    ctx.out = &out;
    ctx.err = &err;
    ctx.env = &env;
    return runCli(argv, coreCommands(), ctx);
  }
};

inline bpf::CgroupSchedStats statsFor(uint64_t id, uint64_t count, int bucket) {
  bpf::CgroupSchedStats s;
  s.cgroup = {bpf::Hierarchy::kV1Cpu, id};
  s.count = count;
  s.sum_ns = count * (uint64_t{3} << bucket) / 2;
  s.max_ns = uint64_t{1} << (bucket + 1);
  s.hist[static_cast<size_t>(bucket)] = count;
  return s;
}

}  // namespace colo::cli::test
