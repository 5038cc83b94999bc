// The real world for coloctl: pinned maps through bpf::PinnedSchedMaps, colod through
// http::Client on its unix socket, RealFs and the mounts from /proc/self/mountinfo.
#pragma once

#include "cli/sources.h"

namespace colo::cli {

// Builds the environment main() hands to the commands. The returned env points into static
// storage (the RealFs); call once.
CliEnv makeRealEnv();

}  // namespace colo::cli
