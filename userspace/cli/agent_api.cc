#include "cli/agent_api.h"

#include <nlohmann/json.hpp>

namespace colo::cli {
namespace {

using nlohmann::json;

// value() of a key that may be absent or null.
template <typename T>
T get(const json& obj, const char* key, T fallback = T{}) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return fallback;
  }
  return it->get<T>();
}

const json& section(const json& obj, const char* key) {
  static const json kEmpty = json::object();
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) {
    return kEmpty;
  }
  return *it;
}

AgentContainer parseContainer(const json& c) {
  AgentContainer out;
  out.id = get<std::string>(c, "id");
  out.name = get<std::string>(c, "name");
  out.pod_uid = get<std::string>(c, "pod_uid");
  out.qos = get<std::string>(c, "qos");
  out.tier = get<std::string>(c, "tier");
  out.cgroup = get<std::string>(c, "cgroup");
  out.cgroup_id = get<uint64_t>(c, "cgroup_id");
  const json& cpu = section(c, "cpu");
  out.usage_cores = get<double>(cpu, "usage_cores");
  out.throttled_pct = get<double>(cpu, "throttled_pct");
  const json& memory = section(c, "memory");
  if (auto it = memory.find("working_set_bytes"); it != memory.end() && !it->is_null()) {
    out.memory_working_set_bytes = it->get<uint64_t>();
  }
  const json& runq = section(c, "runq");
  out.runq_count = get<uint64_t>(runq, "count");
  out.runq_delta_count = get<uint64_t>(runq, "delta_count");
  out.mean_ns = get<uint64_t>(runq, "mean_ns");
  out.max_ns = get<uint64_t>(runq, "max_ns");
  out.p50_ns = get<uint64_t>(runq, "p50_ns");
  out.p90_ns = get<uint64_t>(runq, "p90_ns");
  out.p99_ns = get<uint64_t>(runq, "p99_ns");
  out.hist_window = get<std::vector<uint64_t>>(c, "hist_window");
  out.preemptions = get<uint64_t>(c, "preemptions");
  out.involuntary_switches = get<uint64_t>(c, "involuntary_switches");
  out.waited_behind_lower = get<uint64_t>(c, "waited_behind_lower");
  out.waited_behind_lower_delta = get<uint64_t>(c, "waited_behind_lower_delta");
  out.over_threshold = get<uint64_t>(c, "over_threshold");
  return out;
}

}  // namespace

Result<AgentSnapshot> parseContainers(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return failInvalid("colod's /v1/containers is not a JSON object");
  }
  try {
    AgentSnapshot out;
    out.node = get<std::string>(doc, "node");
    out.tick_ms = get<int64_t>(doc, "tick_ms");
    out.window_ticks = get<int64_t>(doc, "window_ticks");
    out.cgroup_version = get<int64_t>(doc, "cgroup_version");
    out.attach_mode = get<std::string>(doc, "attach_mode");
    auto it = doc.find("containers");
    if (it != doc.end() && !it->is_null()) {
      if (!it->is_array()) {
        return failInvalid("colod's /v1/containers: \"containers\" is not an array");
      }
      for (const json& c : *it) {
        if (!c.is_object()) {
          return failInvalid("colod's /v1/containers: a container entry is not an object");
        }
        out.containers.push_back(parseContainer(c));
      }
    }
    return out;
  } catch (const json::exception& e) {
    return failInvalid(std::string("colod's /v1/containers: ") + e.what());
  }
}

}  // namespace colo::cli
