// colod's local API from an end-to-end test: one GET over its unix socket per call.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/http.h"

namespace colo::test {

// Status of GET `path`; -1 when colod does not answer.
inline int apiStatus(const std::string& socket, const std::string& path) {
  auto client = http::Client::connect("unix:" + socket, 2000);
  if (!client) {
    return -1;
  }
  auto resp = client->get(path);
  return resp ? resp->status : -1;
}

// Body of a 200 answer to GET `path`; nullopt for anything else.
inline std::optional<std::string> apiGet(const std::string& socket, const std::string& path) {
  auto client = http::Client::connect("unix:" + socket, 2000);
  if (!client) {
    return std::nullopt;
  }
  auto resp = client->get(path);
  if (!resp || resp->status != 200) {
    return std::nullopt;
  }
  return resp->body;
}

// apiGet parsed as JSON; nullopt when there is no 200 answer or it does not parse.
inline std::optional<nlohmann::json> apiJson(const std::string& socket, const std::string& path) {
  auto body = apiGet(socket, path);
  if (!body) {
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded()) {
    return std::nullopt;
  }
  return j;
}

}  // namespace colo::test
