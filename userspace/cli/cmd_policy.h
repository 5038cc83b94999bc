// coloctl controllers / profile: the policy engine's state from colod's API (/v1/controllers,
// /v1/containers' per-container profiles), as tables or --json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli.h"

namespace colo::cli {

int runControllers(const CliContext& ctx, const Args& args);
int runProfile(const CliContext& ctx, const Args& args);

// The tables, from the API bodies (pure; unit-testable). Errors: EINVAL for a malformed body.
Result<std::string> renderControllers(const nlohmann::json& body);
Result<std::string> renderProfiles(const nlohmann::json& containers, const std::string& filter);

}  // namespace colo::cli
