// Pieces of `coloctl top`, exposed for tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cli/agent_api.h"

namespace colo::cli {

// The --sort columns top knows, as its --help and errors list them.
inline constexpr std::string_view kTopSortKeys =
    "cpu, mem, p50, p99, throttled, waited, tier, name";
// True for a column of kTopSortKeys.
bool validTopSort(std::string_view key);
// Sorts by `key`: numbers (and tier priority) descending, name ascending; ties by name.
void sortContainers(std::vector<AgentContainer>& containers, std::string_view key);
// One frame of the table (header line, blank line, table). limit 0: all rows.
std::string renderTopFrame(const AgentSnapshot& snap, std::string_view sort_key, size_t limit);
// The --json document of one refresh.
nlohmann::json topJson(const AgentSnapshot& snap, std::string_view sort_key, size_t limit);

}  // namespace colo::cli
