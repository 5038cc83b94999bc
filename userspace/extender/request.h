// Parsing of kube-scheduler's ExtenderArgs and of Kubernetes Node objects with simdjson
// On-Demand: only the fields the plugins use are materialised, the rest is skipped.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "extender/types.h"

namespace colo::extender {

struct ParsedArgs {
  PodInfo pod;
  bool nodes_mode = false;  // the request carried Nodes (full objects) rather than NodeNames
  // NodeNames mode: views into the parser's string buffer.
  std::vector<std::string_view> names;
  // Nodes mode: each node decoded, with its raw JSON (a view into the request body) to echo back.
  struct Item {
    NodeEntry entry;
    std::string_view raw;
  };
  std::vector<Item> nodes;
  void clear() {
    pod = PodInfo{};
    nodes_mode = false;
    names.clear();
    nodes.clear();
  }
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  std::string resource_version;
  NodeEntry node;      // ADDED/MODIFIED/DELETED
  int error_code = 0;  // ERROR: the Status code (410: resourceVersion too old)
  std::string error_message;
};

struct NodeList {
  std::string resource_version;
  std::string continue_token;
  std::vector<NodeEntry> items;
};

// Not thread-safe: one per thread. Views handed out stay valid until the next parse.
class ArgsParser {
 public:
  explicit ArgsParser(std::string colocation_label = "colo.io/colocation",
                      std::string colocation_value = "true")
      : label_(std::move(colocation_label)), label_value_(std::move(colocation_value)) {}

  // `body` must have simdjson::SIMDJSON_PADDING readable bytes past its end; `capacity` is the
  // size of that readable region (http::Request bodies guarantee it). Errors name what is wrong
  // ("Pod.spec.containers[0]: expected an object").
  Status parse(std::string_view body, size_t capacity, ParsedArgs* out);
  // Convenience for tests: copies into a padded buffer first.
  Status parseCopy(std::string_view body, ParsedArgs* out);

  Result<WatchEvent> parseWatchEvent(std::string_view line);
  Result<NodeList> parseNodeList(std::string_view body);

 private:
  Status parseNode(simdjson::ondemand::value v, std::string_view where, NodeEntry* out,
                   std::string* resource_version);
  simdjson::ondemand::parser parser_;
  std::string label_, label_value_;
  std::string pad_;
};

}  // namespace colo::extender
