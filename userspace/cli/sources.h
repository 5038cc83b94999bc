// What coloctl reads, behind interfaces so the commands run against fakes in unit tests:
// the pinned BPF maps (MapReader), colod's local API (AgentClient), the cgroup file system and
// the agent's cgroup-path classifier (CliEnv).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpf/sched_probe.h"
#include "common/cgroup_mounts.h"
#include "common/fs.h"
#include "common/result.h"

namespace colo::cli {

// Read-only view of the maps colod pins (see bpf::PinnedSchedMaps).
class MapReader {
 public:
  virtual ~MapReader() = default;
  virtual Result<std::vector<bpf::CgroupSchedStats>> readStats() = 0;
  virtual Result<std::vector<std::pair<bpf::CgroupRef, bpf::Tier>>> readTiers() = 0;
  virtual Result<std::array<uint64_t, bpf::kTierCount>> readThresholds() = 0;
  virtual Result<bpf::ProbeCounters> counters() = 0;
  // Cgroups created since the probe was loaded, with the path BPF recorded at mkdir (entries are
  // deleted at rmdir). Older cgroups are not there: the caller walks the hierarchy for those.
  virtual Result<std::vector<bpf::CgroupName>> readCgroupNames() = 0;
};

// One connection to colod's local API.
class AgentClient {
 public:
  virtual ~AgentClient() = default;
  // GET `path`; an HTTP status other than 200 is an error carrying the status and body.
  virtual Result<std::string> get(std::string_view path) = 0;
};

// Kubernetes identity of a cgroup path, as the agent classifies it ("" when not a pod cgroup).
struct CgroupIdentity {
  std::string pod_uid;
  std::string container_id;  // "" for a pod-level cgroup
  std::string qos;           // guaranteed | burstable | besteffort | ""
};

// The world as coloctl's commands see it. main() builds the real one (real_env.h).
struct CliEnv {
  std::function<Result<std::unique_ptr<MapReader>>(const std::string& pin_dir)> open_maps;
  std::function<Result<std::unique_ptr<AgentClient>>(const std::string& socket)> connect_agent;
  const FileSystem* fs = nullptr;
  std::function<Result<CgroupMounts>()> detect_mounts;
  std::function<CgroupIdentity(std::string_view cgroup_path)> classify;
  std::function<void(std::chrono::milliseconds)> sleep;
  bool stdout_is_tty = false;
};

}  // namespace colo::cli
