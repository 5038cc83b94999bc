#include "extender/request.h"

#include <gtest/gtest.h>

#include "common/node_metrics.h"
#include "extender/quantity.h"
#include "test_nodes.h"

namespace colo::extender {
namespace {

using testing::bePod;
using testing::lsPod;
using testing::nodeJson;

// The golden JSON of k8s.io/kube-scheduler/extender/v1's compatibility test for ExtenderArgs:
// PascalCase keys, the Pod and Nodes in normal Kubernetes JSON.
constexpr const char* kUpstreamGoldenArgs =
    R"({"Pod":{"metadata":{"uid":"abc","creationTimestamp":null},"spec":{"containers":null},"status":{}},)"
    R"("Nodes":{"metadata":{},"items":[{"metadata":{"name":"ghi","creationTimestamp":null},"spec":{},)"
    R"("status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"",)"
    R"("bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"",)"
    R"("kubeProxyVersion":"","operatingSystem":"","architecture":""}}}]},"NodeNames":["node1"]})";

TEST(ArgsParser, UpstreamGoldenExtenderArgs) {
  ArgsParser p;
  ParsedArgs a;
  auto st = p.parseCopy(kUpstreamGoldenArgs, &a);
  ASSERT_TRUE(st.has_value()) << st.error().message();
  EXPECT_EQ(a.pod.uid, "abc");
  EXPECT_TRUE(a.nodes_mode);
  ASSERT_EQ(a.nodes.size(), 1u);
  EXPECT_EQ(a.nodes[0].entry.name, "ghi");
  EXPECT_EQ(a.nodes[0].raw.substr(0, 31), R"({"metadata":{"name":"ghi","crea)");
  EXPECT_EQ(a.nodes[0].raw.back(), '}');
  EXPECT_FALSE(a.nodes[0].entry.has_metrics);
  // Containers null: a BestEffort pod, hence BE.
  EXPECT_EQ(a.pod.tier, Tier::kBE);
}

TEST(ArgsParser, NodeNamesModeWithNullNodes) {
  ArgsParser p;
  ParsedArgs a;
  std::string body = R"({"Pod":)" + lsPod() + R"(,"Nodes":null,"NodeNames":["n1","n2","n3"]})";
  ASSERT_TRUE(p.parseCopy(body, &a).has_value());
  EXPECT_FALSE(a.nodes_mode);
  ASSERT_EQ(a.names.size(), 3u);
  EXPECT_EQ(a.names[2], "n3");
  EXPECT_EQ(a.pod.name, "web");
  EXPECT_EQ(a.pod.ns, "shop");
  EXPECT_EQ(a.pod.tier, Tier::kLS);
  EXPECT_EQ(a.pod.cpu_request_m, 500);
  EXPECT_EQ(a.pod.memory_request_bytes, 256ll << 20);
  EXPECT_FALSE(a.pod.wants_colocation);
}

TEST(ArgsParser, EscapesUnknownFieldsAndKeyOrder) {
  ArgsParser p;
  ParsedArgs a;
  // NodeNames before Pod, unknown fields at every level, \u escapes in names and keys.
  std::string body =
      R"({"Extra":{"deep":[1,{"x":null}]},"NodeNames":["n\u003c1\u003e","caf\u00e9","a\"b"],)"
      R"("Pod":{"kind":"Pod","metadata":{"name":"p\u0026q","unknown":1},"spec":{"containers":[)"
      R"({"name":"c","resources":{"requests":{"cpu":"1","nvidia.com/gpu":"1"}},"env":[]}]}}})";
  auto st = p.parseCopy(body, &a);
  ASSERT_TRUE(st.has_value()) << st.error().message();
  ASSERT_EQ(a.names.size(), 3u);
  EXPECT_EQ(a.names[0], "n<1>");
  EXPECT_EQ(a.names[1], "caf\xc3\xa9");
  EXPECT_EQ(a.names[2], "a\"b");
  EXPECT_EQ(a.pod.name, "p&q");
  EXPECT_EQ(a.pod.cpu_request_m, 1000);
}

TEST(ArgsParser, EmptyNodeLists) {
  ArgsParser p;
  ParsedArgs a;
  ASSERT_TRUE(p.parseCopy(R"({"Pod":)" + lsPod() + R"(,"NodeNames":[]})", &a).has_value());
  EXPECT_TRUE(a.names.empty());
  EXPECT_FALSE(a.nodes_mode);
  ASSERT_TRUE(p.parseCopy(R"({"Pod":)" + lsPod() + R"(,"Nodes":{"metadata":{},"items":[]}})", &a)
                  .has_value());
  EXPECT_TRUE(a.nodes_mode);
  EXPECT_TRUE(a.nodes.empty());
  ASSERT_TRUE(p.parseCopy(R"({"Pod":)" + lsPod() + R"(,"Nodes":{"metadata":{},"items":null}})", &a)
                  .has_value());
  EXPECT_TRUE(a.nodes.empty());
}

TEST(ArgsParser, NodesModeReadsLabelAndAnnotation) {
  NodeMetrics m = testing::metrics(1000);
  std::string body = R"({"Pod":)" + bePod() + R"(,"Nodes":{"metadata":{},"items":[)" +
                     nodeJson("open", true, encodeNodeMetrics(m)) + "," +
                     nodeJson("closed", false, "") + "," + nodeJson("garbled", true, "{oops") +
                     R"(]},"NodeNames":null})";
  ArgsParser p;
  ParsedArgs a;
  auto st = p.parseCopy(body, &a);
  ASSERT_TRUE(st.has_value()) << st.error().message();
  ASSERT_EQ(a.nodes.size(), 3u);
  EXPECT_TRUE(a.nodes[0].entry.colocation_open);
  ASSERT_TRUE(a.nodes[0].entry.has_metrics);
  EXPECT_EQ(a.nodes[0].entry.metrics, m);
  EXPECT_EQ(a.nodes[0].raw, nodeJson("open", true, encodeNodeMetrics(m)));
  EXPECT_FALSE(a.nodes[1].entry.colocation_open);
  EXPECT_FALSE(a.nodes[1].entry.has_metrics);
  EXPECT_TRUE(a.nodes[1].entry.metrics_error.empty());
  EXPECT_FALSE(a.nodes[2].entry.has_metrics);
  EXPECT_NE(a.nodes[2].entry.metrics_error, "");
  EXPECT_EQ(a.pod.tier, Tier::kBE);
  EXPECT_EQ(a.pod.be_cpu_m, 2000);
  EXPECT_EQ(a.pod.be_memory_bytes, 1ll << 30);
  EXPECT_TRUE(a.pod.wants_colocation);
}

TEST(ArgsParser, WrongShapesAreErrorsNamingThePlace) {
  struct Case {
    std::string body;
    const char* expect;
  } cases[] = {
      {"", "malformed JSON"},
      {"{", ""},
      {"[]", "request body: expected an ExtenderArgs object"},
      {R"({"NodeNames":["a"]})", "Pod: missing"},
      {R"({"Pod":null,"NodeNames":["a"]})", "Pod: missing"},
      {R"({"Pod":)" + lsPod() + "}", "Nodes and NodeNames: both missing"},
      {R"({"Pod":)" + lsPod() + R"(,"NodeNames":"a"})", "NodeNames: expected an array"},
      {R"({"Pod":)" + lsPod() + R"(,"NodeNames":["a",3]})", "NodeNames[1]: expected a string"},
      {R"({"Pod":)" + lsPod() + R"(,"Nodes":[]})", "Nodes: expected a NodeList object"},
      {R"({"Pod":)" + lsPod() + R"(,"Nodes":{"items":[1]}})", "Nodes.items[0]: expected a Node"},
      {R"({"Pod":)" + lsPod() + R"(,"Nodes":{"items":[{"metadata":{}}]}})",
       "Nodes.items[0].metadata.name: missing"},
      {R"({"Pod":"x","NodeNames":[]})", "Pod: expected an object"},
      {R"({"Pod":{"spec":{"containers":{}}},"NodeNames":[]})",
       "Pod.spec.containers: expected an array"},
      {R"({"Pod":{"spec":{"containers":[{"resources":{"requests":{"cpu":"lots"}}}]}},"NodeNames":[]})",
       "Pod.spec.containers[0].resources.requests.cpu"},
      {R"({"Pod":{},"NodeNames":[]} trailing)", "request body:"},
  };
  ArgsParser p;
  ParsedArgs a;
  for (const Case& c : cases) {
    auto st = p.parseCopy(c.body, &a);
    ASSERT_FALSE(st.has_value()) << c.body;
    EXPECT_NE(st.error().message().find(c.expect), std::string::npos)
        << c.body << " -> " << st.error().message();
  }
  // The parser is reusable after an error.
  EXPECT_TRUE(p.parseCopy(R"({"Pod":{},"NodeNames":["x"]})", &a).has_value());
}

TEST(ArgsParser, PodTierAndEffectiveRequests) {
  ArgsParser p;
  ParsedArgs a;
  // Two containers add up; an init container bigger than the sum wins; a limit without a
  // request defaults it; a colo.io/ot-cpu request makes the pod BE and colocation-bound.
  std::string pod =
      R"({"metadata":{"name":"x"},"spec":{"initContainers":[{"resources":{"requests":{"memory":"2Gi"}}}],)"
      R"("containers":[{"resources":{"requests":{"cpu":"250m"}}},{"resources":{"limits":{"cpu":"1.5","memory":"1Gi"}}},)"
      R"({"resources":{"requests":{"colo.io/ot-cpu":"500"}}}]}})";
  ASSERT_TRUE(p.parseCopy(R"({"Pod":)" + pod + R"(,"NodeNames":[]})", &a).has_value());
  EXPECT_EQ(a.pod.cpu_request_m, 1750);
  EXPECT_EQ(a.pod.memory_request_bytes, 2ll << 30);
  EXPECT_EQ(a.pod.ot_cpu_m, 500);
  EXPECT_TRUE(a.pod.wants_colocation);
  EXPECT_EQ(a.pod.tier, Tier::kBE);
  // The label wins over the requests.
  std::string lsr = R"({"metadata":{"labels":{"colo.io/qos":"LSR"}},"spec":{"containers":[]}})";
  ASSERT_TRUE(p.parseCopy(R"({"Pod":)" + lsr + R"(,"NodeNames":[]})", &a).has_value());
  EXPECT_EQ(a.pod.tier, Tier::kLSR);
}

TEST(Quantity, Parses) {
  EXPECT_EQ(parseQuantity("500m", 1000), 500);
  EXPECT_EQ(parseQuantity("2", 1000), 2000);
  EXPECT_EQ(parseQuantity("0.1", 1000), 100);
  EXPECT_EQ(parseQuantity("1.5Gi", 1), 1610612736);
  EXPECT_EQ(parseQuantity("128974848", 1), 128974848);
  EXPECT_EQ(parseQuantity("129e6", 1), 129000000);
  EXPECT_EQ(parseQuantity("1k", 1), 1000);
  EXPECT_EQ(parseQuantity("1Ki", 1), 1024);
  EXPECT_EQ(parseQuantity("1m", 1), 1);  // rounds up
  EXPECT_FALSE(parseQuantity("", 1).has_value());
  EXPECT_FALSE(parseQuantity("abc", 1).has_value());
  EXPECT_FALSE(parseQuantity("1Zi", 1).has_value());
}

TEST(ArgsParser, WatchEventsAndLists) {
  ArgsParser p;
  auto added =
      p.parseWatchEvent(R"({"type":"ADDED","object":)" + nodeJson("n1", true, "", "42") + "}");
  ASSERT_TRUE(added.has_value()) << added.error().message();
  EXPECT_EQ(added->type, "ADDED");
  EXPECT_EQ(added->node.name, "n1");
  EXPECT_EQ(added->resource_version, "42");
  auto gone = p.parseWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old resource version: 1 vs 5","reason":"Expired","code":410}})");
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->error_code, 410);
  auto bookmark = p.parseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"Node","metadata":{"resourceVersion":"77"}}})");
  ASSERT_TRUE(bookmark.has_value());
  EXPECT_EQ(bookmark->resource_version, "77");
  EXPECT_FALSE(p.parseWatchEvent("{not json").has_value());
  auto list = p.parseNodeList(
      R"({"kind":"NodeList","metadata":{"resourceVersion":"9","continue":"c1"},"items":[)" +
      nodeJson("a", false, "") + "," + nodeJson("b", true, "") + "]}");
  ASSERT_TRUE(list.has_value()) << list.error().message();
  EXPECT_EQ(list->resource_version, "9");
  EXPECT_EQ(list->continue_token, "c1");
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_TRUE(list->items[1].colocation_open);
}

}  // namespace
}  // namespace colo::extender
