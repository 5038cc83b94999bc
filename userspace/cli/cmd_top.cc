// `coloctl top`: polls colod's /v1/containers and redraws a table in place.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/agent_api.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/top.h"

namespace colo::cli {
namespace {

using nlohmann::json;

int tierRank(std::string_view tier) {
  if (tier == "LSX") {
    return 4;
  }
  if (tier == "LSR") {
    return 3;
  }
  if (tier == "LS") {
    return 2;
  }
  if (tier == "BE") {
    return 1;
  }
  return 0;
}

}  // namespace

bool validTopSort(std::string_view key) {
  for (std::string_view rest = kTopSortKeys; !rest.empty();) {
    size_t comma = rest.find(", ");
    if (rest.substr(0, comma) == key) {
      return true;
    }
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
  }
  return false;
}

void sortContainers(std::vector<AgentContainer>& containers, std::string_view key) {
  // Numbers sort largest first (what an operator looks for), names alphabetically; ties by name
  // so the order is stable between refreshes.
  auto metric = [&](const AgentContainer& c) -> double {
    if (key == "mem") {
      return static_cast<double>(c.memory_working_set_bytes.value_or(0));
    }
    if (key == "p50") {
      return static_cast<double>(c.p50_ns);
    }
    if (key == "p99") {
      return static_cast<double>(c.p99_ns);
    }
    if (key == "throttled") {
      return c.throttled_pct;
    }
    if (key == "waited") {
      return static_cast<double>(c.waited_behind_lower);
    }
    if (key == "tier") {
      return tierRank(c.tier);
    }
    return c.usage_cores;
  };
  std::stable_sort(containers.begin(), containers.end(),
                   [&](const AgentContainer& a, const AgentContainer& b) {
                     if (key != "name") {
                       double ma = metric(a);
                       double mb = metric(b);
                       if (ma != mb) {
                         return ma > mb;
                       }
                     }
                     return a.name < b.name;
                   });
}

std::string renderTopFrame(const AgentSnapshot& snap, std::string_view sort_key, size_t limit) {
  std::string out =
      fmt::format("colod on {}  cgroup v{}  attach {}  tick {}ms  {} container{}  sorted by {}\n\n",
                  snap.node.empty() ? "?" : snap.node, snap.cgroup_version,
                  snap.attach_mode.empty() ? "?" : snap.attach_mode, snap.tick_ms,
                  snap.containers.size(), snap.containers.size() == 1 ? "" : "s", sort_key);
  using A = Table::Align;
  Table table({{"CONTAINER", A::kLeft, 60},
               {"TIER", A::kLeft},
               {"CPU", A::kRight},
               {"MEM", A::kRight},
               {"RUNQ_P50", A::kRight},
               {"RUNQ_P99", A::kRight},
               {"THROTTLED", A::kRight},
               {"BEHIND_LOWER", A::kRight},
               {"/TICK", A::kRight}});
  size_t n = 0;
  for (const auto& c : snap.containers) {
    if (limit != 0 && n++ >= limit) {
      break;
    }
    // The API's id is the container id for pods, else the cgroup path.
    std::string label = shortContainerName(c.pod_uid, c.pod_uid.empty() ? "" : c.id,
                                           c.name.empty() ? c.id : c.name);
    table.addRow({label, c.tier.empty() ? "-" : c.tier, formatCores(c.usage_cores),
                  c.memory_working_set_bytes ? formatBytes(*c.memory_working_set_bytes) : "-",
                  formatDuration(c.p50_ns), formatDuration(c.p99_ns),
                  formatPercent(c.throttled_pct), formatCount(c.waited_behind_lower),
                  formatCount(c.waited_behind_lower_delta)});
  }
  out += table.render();
  return out;
}

nlohmann::json topJson(const AgentSnapshot& snap, std::string_view sort_key, size_t limit) {
  json doc;
  doc["node"] = snap.node;
  doc["tick_ms"] = snap.tick_ms;
  doc["sort"] = std::string(sort_key);
  auto list = json::array();
  size_t n = 0;
  for (const auto& c : snap.containers) {
    if (limit != 0 && n++ >= limit) {
      break;
    }
    list.push_back(
        {{"id", c.id},
         {"name", c.name},
         {"pod_uid", c.pod_uid},
         {"tier", c.tier},
         {"cgroup", c.cgroup},
         {"cgroup_id", c.cgroup_id},
         {"cpu_cores", c.usage_cores},
         {"memory_working_set_bytes",
          c.memory_working_set_bytes ? json(*c.memory_working_set_bytes) : json(nullptr)},
         {"throttled_pct", c.throttled_pct},
         {"runq_p50_ns", c.p50_ns},
         {"runq_p99_ns", c.p99_ns},
         {"waited_behind_lower", c.waited_behind_lower},
         {"waited_behind_lower_delta", c.waited_behind_lower_delta}});
  }
  doc["containers"] = std::move(list);
  return doc;
}

int runTop(const CliContext& ctx, const Args& args) {
  const std::string& sort_key = args.str("sort");
  if (!validTopSort(sort_key)) {
    *ctx.err << fmt::format("coloctl: unknown --sort column \"{}\" ({})\n", sort_key, kTopSortKeys);
    return kExitUsage;
  }
  int64_t iterations = args.integer("iterations");
  int64_t limit = args.integer("limit");
  if (iterations < 0 || limit < 0) {
    *ctx.err << "coloctl: --iterations and --limit take a count >= 0\n";
    return kExitUsage;
  }
  auto interval = std::chrono::milliseconds(args.durationMs("interval"));
  if (interval < std::chrono::milliseconds(10)) {
    *ctx.err << "coloctl: --interval must be at least 10ms\n";
    return kExitUsage;
  }
  auto client = ctx.env->connect_agent(ctx.socket);
  if (!client) {
    return systemError(ctx, explainAgentError(ctx.socket, client.error()));
  }
  for (int64_t i = 0; iterations == 0 || i < iterations; ++i) {
    if (i > 0 && ctx.env->sleep) {
      ctx.env->sleep(interval);
    }
    auto body = (*client)->get("/v1/containers");
    if (!body) {
      return systemError(ctx, explainAgentError(ctx.socket, body.error()));
    }
    auto snap = parseContainers(*body);
    if (!snap) {
      return systemError(ctx, explainAgentError(ctx.socket, snap.error()));
    }
    sortContainers(snap->containers, sort_key);
    if (ctx.json) {
      // One document per line per refresh (JSON Lines), so scripts can stream it.
      *ctx.out << topJson(*snap, sort_key, static_cast<size_t>(limit)).dump() << "\n";
    } else {
      if (ctx.env->stdout_is_tty) {
        *ctx.out << "\x1b[H\x1b[2J";  // home, clear screen: redraw in place
      } else if (i > 0) {
        *ctx.out << "\n";
      }
      *ctx.out << renderTopFrame(*snap, sort_key, static_cast<size_t>(limit));
    }
    ctx.out->flush();
  }
  return kExitOk;
}

}  // namespace colo::cli
