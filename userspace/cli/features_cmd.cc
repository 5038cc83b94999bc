#include "cli/features_cmd.h"

#include "cli/cli.h"

namespace colo::cli {

int printFeatures(const kmods::KernelFeatures& features, bool json, std::ostream& out) {
  if (json) {
    out << kmods::featuresJson(features) << "\n";
  } else {
    kmods::printFeaturesTable(features, out);
  }
  return 0;
}

int runFeatures(bool json, std::ostream& out, std::ostream& err) {
  auto features = kmods::probeKernel();
  if (!features) {
    err << "coloctl features: " << features.error().message() << "\n";
    return kExitSystem;
  }
  return printFeatures(*features, json, out);
}

}  // namespace colo::cli
