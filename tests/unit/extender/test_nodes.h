// Builders of Node JSON and node-metrics documents for the extender tests, and one request call.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "common/node_metrics.h"
#include "extender/extender.h"

namespace colo::extender::testing {

// One filter or prioritize call on `body`, padded as the HTTP server leaves it (simdjson wants
// spare capacity); expects a 200 and returns the response body.
inline std::string post(Extender& ext, bool filter, const std::string& body) {
  std::string padded = body;
  padded.reserve(body.size() + 64);
  http::Response r =
      filter ? ext.filter(padded, padded.capacity()) : ext.prioritize(padded, padded.capacity());
  EXPECT_EQ(r.status, 200) << r.body;
  return r.body;
}

// A node-metrics document with sensible figures; adjust fields before encoding.
inline NodeMetrics metrics(int64_t ts_ms) {
  NodeMetrics m;
  m.timestamp_ms = ts_ms;
  m.window_s = 60;
  m.cpu = {16000, 4000, 3800, 5000, 8000};
  m.memory = {64ll << 30, 16ll << 30, 16ll << 30, 20ll << 30};
  m.ls = {150, false};
  m.be = {6000, 8ll << 30, 4000};
  m.watermark = {80, 90};
  return m;
}

// JSON string escaping as Go's encoder does it (quotes, and <, >, & as \u003c...).
inline std::string goEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A Node object. annotation_json: the raw annotation value (unescaped), or "" for none.
inline std::string nodeJson(std::string_view name, bool colocation_open,
                            std::string_view annotation_json, std::string_view rv = "1") {
  std::string labels = fmt::format(R"("kubernetes.io/hostname":"{}")", name);
  if (colocation_open) {
    labels += R"(,"colo.io/colocation":"true")";
  }
  std::string annotations = R"("node.alpha.kubernetes.io/ttl":"0")";
  if (!annotation_json.empty()) {
    annotations += fmt::format(R"(,"colo.io/node-metrics":"{}")", goEscape(annotation_json));
  }
  return fmt::format(
      R"({{"metadata":{{"name":"{}","resourceVersion":"{}","creationTimestamp":null,"labels":{{{}}},"annotations":{{{}}}}},)"
      R"("spec":{{"podCIDR":"10.0.0.0/24"}},"status":{{"capacity":{{"cpu":"16"}},"daemonEndpoints":{{"kubeletEndpoint":{{"Port":10250}}}},"images":[{{"names":["a"],"sizeBytes":1}}]}}}})",
      name, rv, labels, annotations);
}

inline std::string lsPod() {
  return R"({"metadata":{"name":"web","namespace":"shop","uid":"u1","creationTimestamp":null},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"500m","memory":"256Mi"}}}]},"status":{}})";
}

inline std::string bePod(std::string_view be_cpu = "2000", std::string_view be_mem = "1Gi") {
  return fmt::format(
      R"({{"metadata":{{"name":"batch","namespace":"ana","uid":"u2","creationTimestamp":null,"labels":{{"colo.io/qos":"BE"}}}},"spec":{{"containers":[{{"name":"c","resources":{{"requests":{{"colo.io/be-cpu":"{}","colo.io/be-memory":"{}"}},"limits":{{"colo.io/be-cpu":"{}","colo.io/be-memory":"{}"}}}}}}]}},"status":{{}}}})",
      be_cpu, be_mem, be_cpu, be_mem);
}

}  // namespace colo::extender::testing
