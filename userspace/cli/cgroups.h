// Turns the pinned maps into rows an operator can read: cgroup ids resolved to paths (from the
// BPF name map, else by walking the hierarchy once per invocation), paths classified into
// pod/container, tiers joined in.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bpf/sched_probe.h"
#include "cli/sources.h"
#include "common/cgroup_mounts.h"
#include "common/fs.h"

namespace colo::cli {

// Resolves cgroup ids to paths relative to their hierarchy root. A name BPF recorded is checked
// against the file system (a single stat); ids BPF does not name are looked up in an inode -> path
// index built by walking the hierarchy, at most once per hierarchy per resolver.
class CgroupResolver {
 public:
  enum class State { kFound, kGone, kUnknown };
  enum class Source { kNone, kBpf, kWalk };  // where the path came from
  struct Resolution {
    State state = State::kUnknown;
    std::string path;  // "/a/b" when kFound (or the BPF name when kUnknown and BPF had one)
    Source source = Source::kNone;
  };

  // `mounts`: nullopt when they could not be detected; then BPF names are taken as they are and
  // nothing is known to be gone.
  // Truncated BPF names are ignored (the walk finds the full path).
  CgroupResolver(const FileSystem& fs, std::optional<CgroupMounts> mounts,
                 const std::vector<bpf::CgroupName>& bpf_names);

  Resolution resolve(bpf::CgroupRef ref);
  // Absolute directory of the hierarchy's root, "" when unknown.
  std::string rootOf(bpf::Hierarchy hierarchy) const;

 private:
  const std::unordered_map<uint64_t, std::string>& index(bpf::Hierarchy hierarchy);

  const FileSystem& fs_;
  std::optional<CgroupMounts> mounts_;
  std::map<std::pair<int, uint64_t>, std::string> bpf_names_;
  std::map<int, std::unordered_map<uint64_t, std::string>> walked_;
};

// One cgroup of the pinned maps, ready to print.
struct CgroupRow {
  bpf::CgroupRef ref;
  bpf::Tier tier = bpf::Tier::kNone;
  bool gone = false;  // the cgroup no longer exists (its stats entry outlived it)
  std::string path;   // relative to the hierarchy root; "" when unknown
  CgroupResolver::Source path_source = CgroupResolver::Source::kNone;
  CgroupIdentity identity;
  bpf::CgroupSchedStats stats;  // zeros when the cgroup has a tier but no stats yet
  bool has_stats = false;

  // "pod<uid>/<container id>", "pod<uid>" for a pod cgroup, else the path (or "?").
  std::string displayName() const;
  // Container id, else the path (docs/api.md "id"), else the numeric cgroup id.
  std::string id() const;
};

struct MapsSnapshot {
  std::vector<CgroupRow> rows;  // sorted by hierarchy then cgroup id
  std::array<uint64_t, bpf::kTierCount> thresholds_ns{};
  bpf::ProbeCounters counters;
};

// Reads every map once and joins them. `include_gone`: keep rows of removed cgroups.
Result<MapsSnapshot> collectMaps(MapReader& maps, const CliEnv& env, bool include_gone);

std::string_view sourceText(CgroupResolver::Source source);  // "bpf", "walk", ""
std::string_view tierText(bpf::Tier tier);                   // "BE", "LS", "LSR", "LSX", "-"
std::string_view hierarchyText(bpf::Hierarchy h);            // "v1-cpu", "v2"

}  // namespace colo::cli
