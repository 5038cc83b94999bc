// `coloctl features`: what enforcement this kernel offers (the kmods-free feature probe).
#pragma once

#include <ostream>

#include "kmods-free/feature_probe.h"

namespace colo::cli {

// Probes this machine and prints the result as a table, or as JSON with `json`. Returns
// coloctl's exit code: 0, or 2 (kExitSystem) with the error on `err` when no cgroup hierarchy
// is mounted.
int runFeatures(bool json, std::ostream& out, std::ostream& err);
// Prints already probed features (the part runFeatures tests drive).
int printFeatures(const kmods::KernelFeatures& features, bool json, std::ostream& out);

}  // namespace colo::cli
