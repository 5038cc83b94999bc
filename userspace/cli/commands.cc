#include "cli/commands.h"

#include <string>

#include "cli/top.h"

namespace colo::cli {

const std::vector<Command>& coreCommands() {
  static const std::vector<Command> kCommands = {
      {
          .name = "maps",
          .summary = "dump the pinned BPF maps (works while colod is stopped)",
          .description =
              "Dump the maps colod pins: per-cgroup run-queue delay counts, mean, max and\n"
              "cumulative p50/p99 from the log2 histogram, preemptions, waits behind a lower\n"
              "tier, delays over the tier threshold; then the thresholds and the BPF error\n"
              "counters. Cgroup ids are resolved to container names and paths.",
          .flags = {{"all", FlagType::kBool, "false",
                     "also list cgroups that were removed but still have stats"}},
          .run = runMaps,
      },
      {
          .name = "top",
          .summary = "live per-container table from colod (CPU, run-queue delay, throttling)",
          .description =
              "Redraw a per-container table from colod's /v1/containers every --interval:\n"
              "tier, CPU cores used, run-queue delay p50/p99 over the window, throttled %, and\n"
              "how often the container waited behind a lower tier.",
          .flags = {{"interval", FlagType::kDuration, "1s", "time between refreshes"},
                    {"iterations", FlagType::kInt, "0",
                     "stop after N refreshes (0: until interrupted)"},
                    {"sort", FlagType::kString, "cpu", "sort column: " + std::string(kTopSortKeys)},
                    {"limit", FlagType::kInt, "0", "show at most N containers (0: all)"}},
          .run = runTop,
      },
      {
          .name = "hist",
          .args_usage = "<container>",
          .summary = "draw a container's run-queue delay histogram",
          .description =
              "Draw the log2 run-queue delay histogram of one container as a bar chart.\n"
              "<container> is a container id or id prefix, a name (pod<uid>/<id>), a pod uid,\n"
              "a cgroup path or a cgroup id. By default the cumulative histogram from the\n"
              "pinned maps; --window takes the agent's window histogram instead.",
          .flags = {{"window", FlagType::kBool, "false",
                     "use colod's window histogram (hist_window) instead of the pinned maps"}},
          .min_args = 1,
          .max_args = 1,
          .run = runHist,
      },
  };
  return kCommands;
}

}  // namespace colo::cli
