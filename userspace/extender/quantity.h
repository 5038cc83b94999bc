// Kubernetes resource quantities ("500m", "2", "1.5Gi", "1e3", "128974848").
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace colo::extender {

// Parses a quantity into its value times `scale` (1000 for CPU in millicores, 1 for bytes),
// rounded up as Kubernetes does. nullopt for anything that is not a quantity.
std::optional<int64_t> parseQuantity(std::string_view text, int64_t scale);

}  // namespace colo::extender
