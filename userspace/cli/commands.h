// coloctl's commands. Each is `int runX(const CliContext&, const Args&)` returning an exit code,
// registered in the table in commands.cc.
#pragma once

#include "cli/cli.h"

namespace colo::cli {

// `coloctl maps`: the pinned maps, cgroup ids resolved to containers and paths.
int runMaps(const CliContext& ctx, const Args& args);
// `coloctl top`: live per-container table from colod's /v1/containers.
int runTop(const CliContext& ctx, const Args& args);
// `coloctl hist <container>`: the run-queue delay histogram as a bar chart.
int runHist(const CliContext& ctx, const Args& args);

}  // namespace colo::cli
