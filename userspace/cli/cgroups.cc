#include "cli/cgroups.h"

#include <fmt/format.h>

#include <algorithm>

namespace colo::cli {

std::string_view tierText(bpf::Tier tier) {
  switch (tier) {
    case bpf::Tier::kBE:
      return "BE";
    case bpf::Tier::kLS:
      return "LS";
    case bpf::Tier::kLSR:
      return "LSR";
    case bpf::Tier::kLSX:
      return "LSX";
    case bpf::Tier::kNone:
      break;
  }
  return "-";
}

std::string_view sourceText(CgroupResolver::Source source) {
  switch (source) {
    case CgroupResolver::Source::kBpf:
      return "bpf";
    case CgroupResolver::Source::kWalk:
      return "walk";
    case CgroupResolver::Source::kNone:
      break;
  }
  return "";
}

std::string_view hierarchyText(bpf::Hierarchy h) {
  return h == bpf::Hierarchy::kV1Cpu ? "v1-cpu" : "v2";
}

CgroupResolver::CgroupResolver(const FileSystem& fs, std::optional<CgroupMounts> mounts,
                               const std::vector<bpf::CgroupName>& bpf_names)
    : fs_(fs), mounts_(std::move(mounts)) {
  for (const auto& name : bpf_names) {
    if (!name.truncated) {
      bpf_names_[{static_cast<int>(name.cgroup.hierarchy), name.cgroup.id}] = name.path;
    }
  }
}

std::string CgroupResolver::rootOf(bpf::Hierarchy hierarchy) const {
  if (!mounts_) {
    return "";
  }
  if (hierarchy == bpf::Hierarchy::kV2) {
    return mounts_->unified;
  }
  auto it = mounts_->v1.find("cpu");
  return it == mounts_->v1.end() ? "" : it->second;
}

const std::unordered_map<uint64_t, std::string>& CgroupResolver::index(bpf::Hierarchy hierarchy) {
  int key = static_cast<int>(hierarchy);
  if (auto it = walked_.find(key); it != walked_.end()) {
    return it->second;
  }
  auto& out = walked_[key];
  std::string root = rootOf(hierarchy);
  if (root.empty()) {
    return out;
  }
  // Iterative walk; a directory that vanishes mid-walk (ENOENT) is simply skipped.
  std::vector<std::string> pending = {"/"};
  while (!pending.empty()) {
    std::string rel = std::move(pending.back());
    pending.pop_back();
    std::string abs = rel == "/" ? root : joinPath(root, rel);
    if (auto ino = fs_.inode(abs)) {
      out.emplace(*ino, rel);
    } else {
      continue;
    }
    auto children = fs_.listDirs(abs);
    if (!children) {
      continue;
    }
    for (const auto& child : *children) {
      pending.push_back(rel == "/" ? "/" + child : rel + "/" + child);
    }
  }
  return out;
}

CgroupResolver::Resolution CgroupResolver::resolve(bpf::CgroupRef ref) {
  std::string root = rootOf(ref.hierarchy);
  auto named = bpf_names_.find({static_cast<int>(ref.hierarchy), ref.id});
  if (named != bpf_names_.end()) {
    if (root.empty()) {
      return {State::kUnknown, named->second, Source::kBpf};
    }
    std::string abs = named->second == "/" ? root : joinPath(root, named->second);
    if (auto ino = fs_.inode(abs); ino && *ino == ref.id) {
      return {State::kFound, named->second, Source::kBpf};
    }
    // Renamed, or removed: the walk below tells which.
  }
  if (root.empty()) {
    return {State::kUnknown, ""};
  }
  const auto& idx = index(ref.hierarchy);
  if (auto it = idx.find(ref.id); it != idx.end()) {
    return {State::kFound, it->second, Source::kWalk};
  }
  return {State::kGone, ""};
}

std::string CgroupRow::displayName() const {
  if (!identity.pod_uid.empty()) {
    if (identity.container_id.empty()) {
      return "pod" + identity.pod_uid;
    }
    return "pod" + identity.pod_uid + "/" + identity.container_id;
  }
  return path.empty() ? "?" : path;
}

std::string CgroupRow::id() const {
  if (!identity.container_id.empty()) {
    return identity.container_id;
  }
  if (!path.empty()) {
    return path;
  }
  return fmt::format("{}", ref.id);
}

Result<MapsSnapshot> collectMaps(MapReader& maps, const CliEnv& env, bool include_gone) {
  auto stats = maps.readStats();
  if (!stats) {
    return fail(stats.error().wrap("read run-queue stats map"));
  }
  auto tiers = maps.readTiers();
  if (!tiers) {
    return fail(tiers.error().wrap("read tier map"));
  }
  auto thresholds = maps.readThresholds();
  if (!thresholds) {
    return fail(thresholds.error().wrap("read threshold map"));
  }
  auto counters = maps.counters();
  if (!counters) {
    return fail(counters.error().wrap("read error counters"));
  }
  auto names = maps.readCgroupNames();
  if (!names) {
    return fail(names.error().wrap("read cgroup name map"));
  }
  std::optional<CgroupMounts> mounts;
  if (env.detect_mounts) {
    if (auto m = env.detect_mounts()) {
      mounts = std::move(*m);
    }
  }
  CgroupResolver resolver(*env.fs, std::move(mounts), *names);

  std::map<std::pair<int, uint64_t>, CgroupRow> rows;
  for (const auto& s : *stats) {
    CgroupRow& row = rows[{static_cast<int>(s.cgroup.hierarchy), s.cgroup.id}];
    row.ref = s.cgroup;
    row.stats = s;
    row.has_stats = true;
  }
  for (const auto& [ref, tier] : *tiers) {
    CgroupRow& row = rows[{static_cast<int>(ref.hierarchy), ref.id}];
    row.ref = ref;
    row.tier = tier;
    if (!row.has_stats) {
      row.stats.cgroup = ref;
    }
  }
  MapsSnapshot out;
  out.thresholds_ns = *thresholds;
  out.counters = *counters;
  for (auto& [key, row] : rows) {
    auto res = resolver.resolve(row.ref);
    row.path = res.path;
    row.path_source = res.source;
    row.gone = res.state == CgroupResolver::State::kGone;
    if (row.gone && !include_gone) {
      continue;
    }
    if (!row.path.empty() && env.classify) {
      row.identity = env.classify(row.path);
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace colo::cli
