// `coloctl maps`: reads the pinned maps only, so it works while colod is stopped.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/cgroups.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/histogram.h"

namespace colo::cli {
namespace {

using nlohmann::json;

constexpr bpf::Tier kShownTiers[] = {bpf::Tier::kBE, bpf::Tier::kLS, bpf::Tier::kLSR,
                                     bpf::Tier::kLSX};

uint64_t meanNs(const bpf::CgroupSchedStats& s) { return s.count == 0 ? 0 : s.sum_ns / s.count; }

json rowJson(const CgroupRow& row) {
  const auto& s = row.stats;
  return {
      {"cgroup_id", row.ref.id},
      {"hierarchy", std::string(hierarchyText(row.ref.hierarchy))},
      {"tier", std::string(tierText(row.tier))},
      {"path", row.path},
      {"path_source", std::string(sourceText(row.path_source))},
      {"gone", row.gone},
      {"id", row.id()},
      {"name", row.displayName()},
      {"pod_uid", row.identity.pod_uid},
      {"container_id", row.identity.container_id},
      {"qos", row.identity.qos},
      {"count", s.count},
      {"sum_ns", s.sum_ns},
      {"mean_ns", meanNs(s)},
      {"max_ns", s.max_ns},
      {"p50_ns", histPercentileNs(s.hist, 50)},
      {"p99_ns", histPercentileNs(s.hist, 99)},
      {"hist", s.hist},
      {"preemptions", s.preemptions},
      {"involuntary_switches", s.involuntary_switches},
      {"waited_behind_lower", s.waited_behind_lower},
      {"over_threshold", s.over_threshold},
  };
}

json countersJson(const bpf::ProbeCounters& c) {
  return {{"events_dropped_ratelimit", c.events_dropped_ratelimit},
          {"events_dropped_full", c.events_dropped_full},
          {"stats_map_full", c.stats_map_full},
          {"storage_errors", c.storage_errors},
          {"cgroup_events_dropped", c.cgroup_events_dropped},
          {"cgroups_map_full", c.cgroups_map_full},
          {"read_errors", c.read_errors},
          {"latency_events", c.latency_events},
          {"cgroup_events", c.cgroup_events}};
}

std::string renderText(const MapsSnapshot& snap, const std::string& pin_dir) {
  std::string out = fmt::format("pinned maps at {}: {} cgroup{}\n\n", pin_dir, snap.rows.size(),
                                snap.rows.size() == 1 ? "" : "s");
  using A = Table::Align;
  Table table({{"CGROUP_ID", A::kRight},
               {"HIER", A::kLeft},
               {"TIER", A::kLeft},
               {"CONTAINER/PATH", A::kLeft, 60},
               {"COUNT", A::kRight},
               {"MEAN", A::kRight},
               {"MAX", A::kRight},
               {"P50", A::kRight},
               {"P99", A::kRight},
               {"PREEMPT", A::kRight},
               {"INVOL", A::kRight},
               {"BEHIND_LOWER", A::kRight},
               {"OVER_THR", A::kRight}});
  for (const auto& row : snap.rows) {
    const auto& s = row.stats;
    std::string name =
        shortContainerName(row.identity.pod_uid, row.identity.container_id, row.displayName());
    if (row.gone) {
      name = "(removed)";
    }
    table.addRow({fmt::format("{}", row.ref.id), std::string(hierarchyText(row.ref.hierarchy)),
                  std::string(tierText(row.tier)), name, formatCount(s.count),
                  formatDuration(meanNs(s)), formatDuration(s.max_ns),
                  formatDuration(histPercentileNs(s.hist, 50)),
                  formatDuration(histPercentileNs(s.hist, 99)), formatCount(s.preemptions),
                  formatCount(s.involuntary_switches), formatCount(s.waited_behind_lower),
                  formatCount(s.over_threshold)});
  }
  out += table.render();
  out += "\nthresholds:";
  for (auto tier : kShownTiers) {
    uint64_t ns = snap.thresholds_ns[static_cast<size_t>(tier)];
    out += fmt::format("  {} {}", tierText(tier), ns == 0 ? "off" : formatDuration(ns));
  }
  const auto& c = snap.counters;
  out += fmt::format(
      "\nbpf errors:  events_dropped_ratelimit {}  events_dropped_full {}  stats_map_full {}  "
      "storage_errors {}  cgroup_events_dropped {}  cgroups_map_full {}  read_errors {}\n"
      "bpf events:  latency {}  cgroup {}\n",
      c.events_dropped_ratelimit, c.events_dropped_full, c.stats_map_full, c.storage_errors,
      c.cgroup_events_dropped, c.cgroups_map_full, c.read_errors, c.latency_events,
      c.cgroup_events);
  return out;
}

}  // namespace

int runMaps(const CliContext& ctx, const Args& args) {
  auto maps = ctx.env->open_maps(ctx.pin_dir);
  if (!maps) {
    return systemError(ctx, explainMapsError(ctx.pin_dir, maps.error()));
  }
  auto snap = collectMaps(**maps, *ctx.env, args.flag("all"));
  if (!snap) {
    return systemError(ctx, explainMapsError(ctx.pin_dir, snap.error()));
  }
  if (ctx.json) {
    json doc;
    doc["pin_dir"] = ctx.pin_dir;
    auto rows = json::array();
    for (const auto& row : snap->rows) {
      rows.push_back(rowJson(row));
    }
    doc["cgroups"] = std::move(rows);
    json thresholds = json::object();
    for (auto tier : kShownTiers) {
      thresholds[std::string(tierText(tier))] = snap->thresholds_ns[static_cast<size_t>(tier)];
    }
    doc["thresholds_ns"] = std::move(thresholds);
    doc["counters"] = countersJson(snap->counters);
    *ctx.out << doc.dump() << "\n";
  } else {
    *ctx.out << renderText(*snap, ctx.pin_dir);
  }
  return kExitOk;
}

}  // namespace colo::cli
