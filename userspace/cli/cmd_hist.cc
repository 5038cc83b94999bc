// `coloctl hist <container>`: cumulative histogram from the pinned maps, or colod's window.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/agent_api.h"
#include "cli/cgroups.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/histogram.h"
#include "cli/match.h"

namespace colo::cli {
namespace {

using nlohmann::json;

struct Chosen {
  MatchCandidate who;
  std::string tier;
  std::vector<uint64_t> buckets;
  uint64_t count = 0;  // delays the histogram holds
  uint64_t mean_ns = 0;
  uint64_t max_ns = 0;
  std::string source;  // "pinned" or "window"
  std::string span;    // what the histogram covers, in words
};

int print(const CliContext& ctx, const Chosen& c) {
  if (ctx.json) {
    json doc = histogramJson(c.buckets);
    doc["source"] = c.source;
    doc["container"] = {
        {"id", c.who.id},         {"name", c.who.name},           {"pod_uid", c.who.pod_uid},
        {"cgroup", c.who.cgroup}, {"cgroup_id", c.who.cgroup_id}, {"tier", c.tier}};
    doc["mean_ns"] = c.mean_ns;
    doc["max_ns"] = c.max_ns;
    *ctx.out << doc.dump() << "\n";
    return kExitOk;
  }
  uint64_t total = 0;
  for (uint64_t b : c.buckets) {
    total += b;
  }
  *ctx.out << fmt::format("run-queue delay of {} (cgroup {}, id {}, tier {})\n", c.who.name,
                          c.who.cgroup.empty() ? "?" : c.who.cgroup, c.who.cgroup_id, c.tier)
           << fmt::format("{}: {} delays", c.span, total);
  if (c.source == "pinned") {
    // The agent's mean and max are not those of its window, so only the pinned ones are shown.
    *ctx.out << fmt::format(", mean {}, max {}", formatDuration(c.mean_ns),
                            formatDuration(c.max_ns));
  }
  *ctx.out << fmt::format(", p50 {}, p99 {}\n\n", formatDuration(histPercentileNs(c.buckets, 50)),
                          formatDuration(histPercentileNs(c.buckets, 99)))
           << renderHistogram(c.buckets);
  return kExitOk;
}

int fromPinned(const CliContext& ctx, const std::string& query) {
  auto maps = ctx.env->open_maps(ctx.pin_dir);
  if (!maps) {
    return systemError(ctx, explainMapsError(ctx.pin_dir, maps.error()));
  }
  auto snap = collectMaps(**maps, *ctx.env, /*include_gone=*/false);
  if (!snap) {
    return systemError(ctx, explainMapsError(ctx.pin_dir, snap.error()));
  }
  std::vector<MatchCandidate> candidates;
  std::vector<const CgroupRow*> rows;
  for (const auto& row : snap->rows) {
    if (!row.has_stats) {
      continue;
    }
    candidates.push_back({row.id(), row.displayName(), row.identity.pod_uid,
                          row.identity.container_id, row.path, row.ref.id});
    rows.push_back(&row);
  }
  auto idx = matchContainer(query, candidates);
  if (!idx) {
    *ctx.err << "coloctl: " << idx.error().message()
             << " among the cgroups with run-queue stats (see `coloctl maps`)\n";
    return kExitUsage;
  }
  const CgroupRow& row = *rows[*idx];
  Chosen c;
  c.who = candidates[*idx];
  c.tier = tierText(row.tier);
  c.buckets.assign(row.stats.hist.begin(), row.stats.hist.end());
  c.count = row.stats.count;
  c.mean_ns = row.stats.count == 0 ? 0 : row.stats.sum_ns / row.stats.count;
  c.max_ns = row.stats.max_ns;
  c.source = "pinned";
  c.span = "cumulative since its map entry was created";
  return print(ctx, c);
}

int fromWindow(const CliContext& ctx, const std::string& query) {
  auto client = ctx.env->connect_agent(ctx.socket);
  if (!client) {
    return systemError(ctx, explainAgentError(ctx.socket, client.error()));
  }
  auto body = (*client)->get("/v1/containers");
  if (!body) {
    return systemError(ctx, explainAgentError(ctx.socket, body.error()));
  }
  auto snap = parseContainers(*body);
  if (!snap) {
    return systemError(ctx, explainAgentError(ctx.socket, snap.error()));
  }
  std::vector<MatchCandidate> candidates;
  for (const auto& c : snap->containers) {
    // The API's id is the container id in Kubernetes and the cgroup path outside it.
    std::string container_id = c.pod_uid.empty() ? "" : c.id;
    candidates.push_back({c.id, c.name, c.pod_uid, container_id, c.cgroup, c.cgroup_id});
  }
  auto idx = matchContainer(query, candidates);
  if (!idx) {
    *ctx.err << "coloctl: " << idx.error().message() << " among colod's containers\n";
    return kExitUsage;
  }
  const AgentContainer& ac = snap->containers[*idx];
  Chosen c;
  c.who = candidates[*idx];
  c.tier = ac.tier;
  c.buckets = ac.hist_window;
  c.mean_ns = ac.mean_ns;
  c.max_ns = ac.max_ns;
  c.source = "window";
  c.span = fmt::format(
      "window of the last {} ticks ({})", snap->window_ticks,
      formatDuration(static_cast<uint64_t>(snap->window_ticks * snap->tick_ms) * 1000000ull));
  return print(ctx, c);
}

}  // namespace

int runHist(const CliContext& ctx, const Args& args) {
  const std::string& query = args.positional.at(0);
  return args.flag("window") ? fromWindow(ctx, query) : fromPinned(ctx, query);
}

}  // namespace colo::cli
