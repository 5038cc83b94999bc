#include "cli/features_cmd.h"

namespace colo::cli {

int printFeatures(const kmods::KernelFeatures& features, bool json, std::ostream& out) {
  if (json) {
    out << kmods::featuresJson(features) << "\n";
  } else {
    kmods::printFeaturesTable(features, out);
  }
  return 0;
}

int runFeatures(bool json, std::ostream& out) {
  auto features = kmods::probeKernel();
  if (!features) {
    out << "coloctl features: " << features.error().message() << "\n";
    return 1;
  }
  return printFeatures(*features, json, out);
}

}  // namespace colo::cli
