#include "agent/policy/snapshot.h"

#include <strings.h>

namespace colo::policy {

const char* tierName(Tier tier) {
  switch (tier) {
    case Tier::kBE:
      return "BE";
    case Tier::kLS:
      return "LS";
    case Tier::kLSR:
      return "LSR";
    case Tier::kLSX:
      return "LSX";
  }
  return "?";
}

std::optional<Tier> parseTier(std::string_view text) {
  for (Tier t : {Tier::kBE, Tier::kLS, Tier::kLSR, Tier::kLSX}) {
    std::string_view name = tierName(t);
    if (text.size() == name.size() && strncasecmp(text.data(), name.data(), name.size()) == 0) {
      return t;
    }
  }
  return std::nullopt;
}

}  // namespace colo::policy
