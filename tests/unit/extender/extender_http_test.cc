// The extender behind the real HTTP server on port 0: what kube-scheduler sees.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "common/http.h"
#include "common/node_metrics.h"
#include "common/unique_fd.h"
#include "extender/extender.h"
#include "test_nodes.h"

namespace colo::extender {
namespace {

using testing::lsPod;
using testing::nodeJson;

struct Served {
  explicit Served(http::ServerOptions o = {})
      : server(o, [this](const http::Request& r) { return ext.handle(r); }) {
    auto p = server.listenTcp("127.0.0.1", 0);
    EXPECT_TRUE(p.has_value());
    port = *p;
    EXPECT_TRUE(server.start().has_value());
  }
  http::Client client() {
    auto c = http::Client::connect("127.0.0.1:" + std::to_string(port));
    EXPECT_TRUE(c.has_value());
    return std::move(*c);
  }
  Config config;
  Extender ext{config, "/colo", nullptr};
  http::Server server;
  uint16_t port = 0;
};

std::string nodesRequest(int n) {
  std::string body = R"({"Pod":)" + lsPod() + R"(,"Nodes":{"metadata":{},"items":[)";
  for (int i = 0; i < n; ++i) {
    NodeMetrics m = testing::metrics(Extender::wallClockMs());
    m.cpu.used_m = 1000 + i * 100;
    body += (i ? "," : "") + nodeJson("n" + std::to_string(i), true, encodeNodeMetrics(m));
  }
  return body + R"(]},"NodeNames":null})";
}

TEST(ExtenderHttp, KeepAliveFilterAndPrioritizeOnOneConnection) {
  Served s;
  http::Client c = s.client();
  std::string body = nodesRequest(5);
  for (int i = 0; i < 10; ++i) {
    auto f = c.request("POST", "/colo/filter", body);
    ASSERT_TRUE(f.has_value()) << f.error().message();
    EXPECT_EQ(f->status, 200);
    EXPECT_NE(f->body.find(R"("Nodes":{"metadata":{},"items":[{"metadata":{"name":"n0")"),
              std::string::npos);
    auto p = c.request("POST", "/colo/prioritize", body);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->status, 200);
    EXPECT_EQ(p->body.front(), '[');
  }
  EXPECT_EQ(s.server.connectionCount(), 1u);
  auto m = c.get("/metrics");
  ASSERT_TRUE(m.has_value());
  EXPECT_NE(m->body.find(R"(colo_extender_requests_total{verb="filter",code="200"} 10)"),
            std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find(R"(colo_extender_request_duration_seconds_count{verb="prioritize"} 10)"),
            std::string::npos);
  EXPECT_NE(m->body.find(
                R"(colo_extender_plugin_decisions_total{plugin="NodeInfoRt",decision="scored"})"),
            std::string::npos);
  EXPECT_EQ(c.get("/healthz")->status, 200);
}

TEST(ExtenderHttp, ConcurrentSchedulersConnections) {
  http::ServerOptions o;
  o.threads = 2;
  Served s(o);
  std::string body = nodesRequest(20);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      http::Client c = s.client();
      for (int i = 0; i < 50; ++i) {
        auto r = c.request("POST", i % 2 ? "/colo/filter" : "/colo/prioritize", body);
        if (r && r->status == 200) {
          good.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(good.load(), 400);
}

TEST(ExtenderHttp, MalformedJsonGets400AndOtherRequestsAreServed) {
  Served s;
  http::Client c = s.client();
  auto bad = c.request("POST", "/colo/filter", R"({"Pod":{},"NodeNames":["a",)");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("bad ExtenderArgs"), std::string::npos);
  auto shape = c.request("POST", "/colo/prioritize", R"({"Pod":{},"NodeNames":{"a":1}})");
  ASSERT_TRUE(shape.has_value());
  EXPECT_EQ(shape->status, 400);
  EXPECT_NE(shape->body.find("NodeNames: expected an array"), std::string::npos) << shape->body;
  // The same connection, and others, keep working.
  auto good = c.request("POST", "/colo/filter", nodesRequest(1));
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(good->status, 200);
  auto m = c.get("/metrics");
  EXPECT_NE(m->body.find(R"(colo_extender_requests_total{verb="filter",code="400"} 1)"),
            std::string::npos);
}

TEST(ExtenderHttp, UnknownFieldsAndEscapesAndEmptyLists) {
  Served s;
  http::Client c = s.client();
  auto r = c.request(
      "POST", "/colo/filter",
      R"({"Pod":{"metadata":{"name":"x\u0026y"},"future":[1]},"NodeNames":["a\u003cb"],"Other":null})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(
      r->body,
      R"({"Nodes":null,"NodeNames":["a\u003cb"],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""})");
  auto e =
      c.request("POST", "/colo/prioritize", R"({"Pod":{},"Nodes":{"metadata":{},"items":[]}})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->body, "[]");
}

TEST(ExtenderHttp, OversizedBodyGets413) {
  http::ServerOptions o;
  o.max_body_bytes = 4096;
  Served s(o);
  http::Client c = s.client();
  auto r = c.request("POST", "/colo/filter", nodesRequest(20));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  http::Client c2 = s.client();
  EXPECT_EQ(c2.request("POST", "/colo/filter", nodesRequest(1))->status, 200);
}

TEST(ExtenderHttp, RoutesAndMethods) {
  Served s;
  http::Client c = s.client();
  EXPECT_EQ(c.get("/colo/filter")->status, 405);
  EXPECT_EQ(c.request("POST", "/other/filter", "{}")->status, 404);
  EXPECT_EQ(c.request("POST", "/colo/bind", "{}")->status, 404);
}

TEST(ExtenderHttp, HealthzWaitsForTheNodeCache) {
  Config config;
  NodeCache cache;
  Extender ext(config, "colo/", &cache);  // prefix normalised to "/colo"
  http::Request r;
  r.method = "GET";
  r.path = "/healthz";
  EXPECT_EQ(ext.handle(r).status, 503);
  cache.replaceAll({});
  EXPECT_EQ(ext.handle(r).status, 200);
  r.method = "POST";
  r.path = "/colo/filter";
  r.body = R"({"Pod":{},"NodeNames":[]})";
  EXPECT_EQ(ext.handle(r).status, 200);
}

}  // namespace
}  // namespace colo::extender
