// The request fast path: the node cache's open-addressing index, reason texts written without
// fmt, JSON strings copied whole when they need no escaping, and interleaved failure reasons.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "extender/extender.h"
#include "extender/json_writer.h"
#include "extender/node_cache.h"
#include "extender/plugins.h"
#include "extender/request.h"
#include "test_nodes.h"

namespace colo::extender {
namespace {

constexpr int64_t kNow = 1763812800000;

NodeEntry named(std::string name, bool open = false) {
  NodeEntry e;
  e.name = std::move(name);
  e.colocation_open = open;
  return e;
}

const NodeEntry* lookup(const NodeCache& cache, std::string_view name) {
  return cache.readIndex([&](const NodeCache::Index& idx) { return idx.find(name); });
}

TEST(NodeCacheIndex, AgreesWithTheMapThroughUpsertsErasesAndRelists) {
  NodeCache cache;
  EXPECT_EQ(lookup(cache, "a"), nullptr);  // empty index
  for (int i = 0; i < 1000; ++i) {         // grows several times
    cache.upsert(named(fmt::format("node-{}", i), i % 2 == 0));
  }
  for (int i = 0; i < 1000; ++i) {
    const NodeEntry* e = lookup(cache, fmt::format("node-{}", i));
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(e->name, fmt::format("node-{}", i));
    EXPECT_EQ(e->colocation_open, i % 2 == 0);
  }
  EXPECT_EQ(lookup(cache, "node-1000"), nullptr);
  EXPECT_EQ(lookup(cache, ""), nullptr);
  EXPECT_EQ(lookup(cache, "node-1x"), nullptr);
  // A modified node is seen with its new contents.
  cache.upsert(named("node-1", true));
  ASSERT_NE(lookup(cache, "node-1"), nullptr);
  EXPECT_TRUE(lookup(cache, "node-1")->colocation_open);
  EXPECT_EQ(cache.size(), 1000u);
  // Deleted nodes disappear, the others stay.
  for (int i = 0; i < 1000; i += 3) {
    cache.erase(fmt::format("node-{}", i));
  }
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(lookup(cache, fmt::format("node-{}", i)) != nullptr, i % 3 != 0) << i;
  }
  // A relist replaces everything.
  std::vector<NodeEntry> fresh;
  fresh.push_back(named("x", true));
  fresh.push_back(named("a-much-longer-node-name.eu-west-1.compute.internal"));
  cache.replaceAll(std::move(fresh));
  EXPECT_EQ(lookup(cache, "node-2"), nullptr);
  ASSERT_NE(lookup(cache, "x"), nullptr);
  EXPECT_TRUE(lookup(cache, "x")->colocation_open);
  EXPECT_NE(lookup(cache, "a-much-longer-node-name.eu-west-1.compute.internal"), nullptr);
  EXPECT_EQ(lookup(cache, "a-much-longer-node-name.eu-west-1.compute.internaL"), nullptr);
}

TEST(NameHash, DependsOnEveryByteAndTheLength) {
  EXPECT_NE(nameHash("node-00001"), nameHash("node-00002"));
  EXPECT_NE(nameHash("abcdefgh"), nameHash("abcdefgi"));
  EXPECT_NE(nameHash("a"), nameHash(std::string_view("a\0", 2)));
  EXPECT_NE(nameHash(""), nameHash(std::string_view("\0", 1)));
  EXPECT_EQ(nameHash("node-00001"), nameHash(std::string("node-00001")));
}

// The reasons used to be formatted with fmt ("{:.1f}Gi", "{:.0f}Mi", "{}m"); the faster
// writer must produce the same text.
std::string fmtMillicores(int64_t m) {
  return m % 1000 == 0 ? fmt::format("{}", m / 1000) : fmt::format("{}m", m);
}
std::string fmtBytes(int64_t b) {
  if (b >= (1ll << 30)) {
    return fmt::format("{:.1f}Gi", static_cast<double>(b) / (1ll << 30));
  }
  if (b >= (1ll << 20)) {
    return fmt::format("{:.0f}Mi", static_cast<double>(b) / (1ll << 20));
  }
  return fmt::format("{}", b);
}

TEST(FilterReason, SameTextAsFmtFormatting) {
  Config c;
  using W = FilterVerdict::Why;
  auto reason = [&](W why, int64_t v, int64_t l) {
    return FilterVerdict{FilterVerdict::kFail, Plugin::kBeFit, why, v, l}.reason(c);
  };
  std::vector<int64_t> bytes = {0,
                                1,
                                1023,
                                (1 << 20) - 1,
                                1 << 20,
                                (3 << 20) / 2,
                                (5 << 20) / 2,
                                123456789,
                                (1ll << 30) - 1,
                                1ll << 30,
                                (1ll << 30) + (1ll << 30) / 20,
                                (5ll << 30) / 4,
                                8ll << 30,
                                (1ll << 40) + 12345,
                                9000000000000000000};
  for (int64_t i = 0; i < 2000; ++i) {
    bytes.push_back(i * 7340033 + 1000);  // a spread across Mi and Gi with odd fractions
    bytes.push_back((1ll << 30) + i * (1ll << 30) / 40);  // ties at .x5 Gi
  }
  for (int64_t b : bytes) {
    EXPECT_EQ(reason(W::kBeMemory, b, 4ll << 30),
              fmt::format("colo: BE memory left {} < requested colo.io/be-memory {}", fmtBytes(b),
                          fmtBytes(4ll << 30)))
        << b;
  }
  for (int64_t m : {0ll, 1ll, 999ll, 1000ll, 1500ll, 2000ll, 123456ll, -1500ll, -2000ll}) {
    EXPECT_EQ(reason(W::kBeCpu, m, 2000),
              fmt::format("colo: BE CPU left {} < requested colo.io/be-cpu {}", fmtMillicores(m),
                          fmtMillicores(2000)));
    EXPECT_EQ(reason(W::kOtCpu, m, 250),
              fmt::format("colo: OT CPU left {} < requested colo.io/ot-cpu {}", fmtMillicores(m),
                          fmtMillicores(250)));
  }
  EXPECT_EQ(reason(W::kCpuOverWatermark, 91, 85),
            "colo: node CPU usage 91% is over its safety watermark 85%");
  EXPECT_EQ(reason(W::kMemoryOverWatermark, 95, 90),
            "colo: node memory usage 95% is over its safety watermark 90%");
  EXPECT_EQ(reason(W::kLatencyGuard, 1234, 0),
            "colo: LS latency guard active on the node (run-queue p99 1234us)");
}

TEST(JsonWriter, CopiesPlainStringsAndEscapesTheRest) {
  std::string out;
  JsonWriter w(&out);
  w.str("node-00001");
  w.ch(',');
  w.str("");
  w.ch(',');
  w.str("a<b>&\"\\\n\x01z");
  EXPECT_EQ(out, R"("node-00001","","a\u003cb\u003e\u0026\"\\\n\u0001z")");
}

// Failures of both kinds interleaved: the reasons without numbers are formatted once per
// request and reused, the numbered ones follow each node.
TEST(ExtenderFilter, InterleavedReasonsStayWithTheirNodes) {
  Config config;
  config.max_metrics_age_s = 60;
  NodeCache cache;
  Extender ext{config, "/colo", &cache, [] { return kNow; }};
  ArgsParser p;
  auto add = [&](std::string_view name, bool open, int64_t be_cpu_m) {
    NodeMetrics m = testing::metrics(kNow);
    m.be.cpu_m = be_cpu_m;
    auto ev = p.parseWatchEvent(R"({"type":"ADDED","object":)" +
                                testing::nodeJson(name, open, encodeNodeMetrics(m)) + "}");
    ASSERT_TRUE(ev.has_value());
    cache.upsert(ev->node);
  };
  add("a", false, 6000);
  add("b", true, 1500);
  add("c", false, 6000);
  add("d", true, 500);
  add("e", true, 1500);
  add("f", true, 6000);
  std::string body = R"({"Pod":)" + testing::bePod() +
                     R"(,"Nodes":null,"NodeNames":["a","b","c","ghost","d","e","f","ghost2"]})";
  body.reserve(body.size() + 64);
  for (int round = 0; round < 2; ++round) {  // the per-thread buffers are reused
    http::Response r = ext.filter(body, body.capacity());
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string not_open =
        "colo: node is not open to colocation (needs label colo.io/colocation=true) and the pod "
        "requests colo.io BE/OT resources";
    const std::string unknown =
        "colo: node unknown to colo-extender's node cache (not synced yet?); cannot check its "
        "colo.io/colocation label";
    EXPECT_EQ(r.body, R"({"Nodes":null,"NodeNames":["f"],"FailedNodes":{)"
                      R"("b":"colo: BE CPU left 1500m \u003c requested colo.io/be-cpu 2",)"
                      R"("ghost":")" +
                          unknown +
                          R"(",)"
                          R"("d":"colo: BE CPU left 500m \u003c requested colo.io/be-cpu 2",)"
                          R"("e":"colo: BE CPU left 1500m \u003c requested colo.io/be-cpu 2",)"
                          R"("ghost2":")" +
                          unknown +
                          R"("},)"
                          R"("FailedAndUnresolvableNodes":{"a":")" +
                          not_open + R"(","c":")" + not_open + R"("},"Error":""})");
  }
}

}  // namespace
}  // namespace colo::extender
