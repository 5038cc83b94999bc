#include "cli/cmd_policy.h"

#include <fmt/format.h>

#include <algorithm>

#include "cli/format.h"
#include "cli/sources.h"

namespace colo::cli {
namespace {

// "key=value" for the scalar fields of a controller's state, in the API's order.
std::string details(const nlohmann::json& c) {
  std::string out;
  for (const auto& [k, v] : c.items()) {
    if (k == "name" || k == "state" || !(v.is_primitive())) {
      continue;
    }
    std::string value;
    if (v.is_null()) {
      value = "-";
    } else if (v.is_number_float()) {
      value = fmt::format("{:.2f}", v.get<double>());
    } else if (v.is_string()) {
      value = v.get<std::string>();
      if (value.empty()) {
        continue;
      }
    } else {
      value = v.dump();
    }
    out += (out.empty() ? "" : " ") + k + "=" + value;
  }
  return out;
}

std::string cpus(const nlohmann::json& list) {
  if (!list.is_array() || list.empty()) {
    return "-";
  }
  std::string out;
  for (const auto& c : list) {
    out += (out.empty() ? "" : ",") + c.dump();
  }
  return out;
}

Result<nlohmann::json> fetch(const CliContext& ctx, std::string_view path) {
  auto client = ctx.env->connect_agent(ctx.socket);
  if (!client) {
    return fail(Error::invalid(explainAgentError(ctx.socket, client.error())));
  }
  auto body = (*client)->get(path);
  if (!body) {
    return fail(Error::invalid(explainAgentError(ctx.socket, body.error())));
  }
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return failInvalid(fmt::format("colod sent a malformed {} body", path));
  }
  return j;
}

}  // namespace

Result<std::string> renderControllers(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("controllers") || !body["controllers"].is_array()) {
    return failInvalid("/v1/controllers: no controllers list");
  }
  std::string out;
  bool frozen = body.value("frozen", false);
  out += fmt::format("enforce: {}   frozen: {}", body.value("enforce", false) ? "yes" : "no (dry)",
                     frozen ? "YES" : "no");
  if (frozen && body.contains("freeze") && body["freeze"].contains("reasons")) {
    std::string why;
    for (const auto& r : body["freeze"]["reasons"]) {
      why += (why.empty() ? "" : "; ") + r.get<std::string>();
    }
    out += " (" + why + ")";
  }
  out += fmt::format("   BE cpus: {}\n", cpus(body.value("be_cpus", nlohmann::json())));
  if (body.contains("pools") && body["pools"].is_object()) {
    const auto& p = body["pools"];
    out += fmt::format(
        "pools: LSX {}  LSR {}  shared {}  BE {}\n", cpus(p.value("lsx", nlohmann::json())),
        cpus(p.value("lsr", nlohmann::json())), cpus(p.value("shared", nlohmann::json())),
        cpus(p.value("be", nlohmann::json())));
  }
  Table t({{"CONTROLLER"}, {"STATE"}, {"DETAIL", Table::Align::kLeft, 100}});
  for (const auto& c : body["controllers"]) {
    if (!c.is_object()) {
      return failInvalid("/v1/controllers: a controller is not an object");
    }
    t.addRow({c.value("name", "?"), c.value("state", "?"), details(c)});
  }
  out += t.render();
  return out;
}

Result<std::string> renderProfiles(const nlohmann::json& body, const std::string& filter) {
  if (!body.is_object() || !body.contains("containers") || !body["containers"].is_array()) {
    return failInvalid("/v1/containers: no containers list");
  }
  Table t({{"CONTAINER", Table::Align::kLeft, 40},
           {"TIER"},
           {"SAMPLES", Table::Align::kRight},
           {"P50", Table::Align::kRight},
           {"P95", Table::Align::kRight},
           {"P99", Table::Align::kRight},
           {"MAX", Table::Align::kRight},
           {"REQUEST", Table::Align::kRight},
           {"RECOMMENDED", Table::Align::kRight},
           {"MEM_P95", Table::Align::kRight},
           {"MEM_MAX", Table::Align::kRight}});
  for (const auto& c : body["containers"]) {
    std::string id = c.value("id", "");
    std::string name = c.value("name", id);
    if (!filter.empty() && id.find(filter) == std::string::npos &&
        name.find(filter) == std::string::npos) {
      continue;
    }
    const auto& p = c.contains("profile") ? c["profile"] : nlohmann::json();
    if (!p.is_object()) {
      t.addRow({name, c.value("tier", "?"), "0", "-", "-", "-", "-", "-", "-", "-", "-"});
      continue;
    }
    auto cpu = [&](const char* k) {
      return p.contains("cpu") && p["cpu"].contains(k) ? formatCores(p["cpu"][k].get<double>())
                                                       : std::string("-");
    };
    auto mem = [&](const char* k) {
      return p.contains("memory") && p["memory"].contains(k) && p["memory"][k].is_number()
                 ? formatBytes(static_cast<uint64_t>(std::max(0.0, p["memory"][k].get<double>())))
                 : std::string("-");
    };
    std::string request = p.contains("request_cores") && p["request_cores"].is_number()
                              ? formatCores(p["request_cores"].get<double>())
                              : "-";
    t.addRow({name, p.value("tier", c.value("tier", "?")), std::to_string(p.value("samples", 0)),
              cpu("p50"), cpu("p95"), cpu("p99"), cpu("max"), request,
              formatCores(p.value("recommended_request_cores", 0.0)), mem("p95_bytes"),
              mem("max_bytes")});
  }
  return t.render();
}

int runControllers(const CliContext& ctx, const Args&) {
  auto body = fetch(ctx, "/v1/controllers");
  if (!body) {
    return systemError(ctx, body.error().message());
  }
  if (ctx.json) {
    *ctx.out << body->dump() << "\n";
    return kExitOk;
  }
  auto text = renderControllers(*body);
  if (!text) {
    return systemError(ctx, text.error().message());
  }
  *ctx.out << *text;
  return kExitOk;
}

int runProfile(const CliContext& ctx, const Args& args) {
  auto body = fetch(ctx, "/v1/containers");
  if (!body) {
    return systemError(ctx, body.error().message());
  }
  std::string filter = args.positional.empty() ? "" : args.positional[0];
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& c : (*body)["containers"]) {
      std::string id = c.value("id", "");
      if (!filter.empty() && id.find(filter) == std::string::npos &&
          c.value("name", "").find(filter) == std::string::npos) {
        continue;
      }
      out[id] = c.contains("profile") ? c["profile"] : nlohmann::json();
    }
    *ctx.out << out.dump() << "\n";
    return kExitOk;
  }
  auto text = renderProfiles(*body, filter);
  if (!text) {
    return systemError(ctx, text.error().message());
  }
  *ctx.out << *text;
  return kExitOk;
}

}  // namespace colo::cli
