// Plugin decisions on crafted nodes, and golden request/response pairs through Extender in both
// node modes.
#include "extender/plugins.h"

#include <gtest/gtest.h>

#include "common/node_metrics.h"
#include "extender/extender.h"
#include "extender/request.h"
#include "test_nodes.h"

namespace colo::extender {
namespace {

using testing::bePod;
using testing::lsPod;
using testing::nodeJson;

constexpr int64_t kNow = 1763812800000;

struct Fixture {
  Config config;
  ExtenderMetrics metrics;
  Placements placements;
  Plugins plugins{config, &metrics, &placements};

  NodeEntry entry(std::string name, NodeMetrics m, bool open = true) {
    NodeEntry e;
    e.name = std::move(name);
    e.colocation_open = open;
    e.has_metrics = true;
    e.metrics = m;
    return e;
  }
  FilterVerdict filter(const PodInfo& pod, const NodeEntry* e) {
    NodeView v{e != nullptr ? std::string_view(e->name) : std::string_view("ghost"), e};
    v.state = plugins.classify(e, kNow);
    std::vector<Placements::Summary> placed;
    plugins.placedOn(std::span<const NodeView>(&v, 1), kNow, &placed);
    return plugins.filter(pod, v, placed[0]);
  }
};

PodInfo ls() {
  PodInfo p;
  p.tier = Tier::kLS;
  p.cpu_request_m = 500;
  p.memory_request_bytes = 256 << 20;
  return p;
}

PodInfo be(int64_t be_cpu = 2000, int64_t be_mem = 1ll << 30) {
  PodInfo p;
  p.tier = Tier::kBE;
  p.be_cpu_m = be_cpu;
  p.be_memory_bytes = be_mem;
  p.wants_colocation = true;
  return p;
}

TEST(SafetyWatermark, FiltersLsPodsOffHotOrGuardedNodes) {
  Fixture f;
  NodeMetrics m = testing::metrics(kNow);
  NodeEntry cool = f.entry("cool", m);
  EXPECT_EQ(f.filter(ls(), &cool).kind, FilterVerdict::kPass);

  m.cpu.used_m = 14000;  // 87.5% > 80%
  NodeEntry hot = f.entry("hot", m);
  FilterVerdict v = f.filter(ls(), &hot);
  EXPECT_EQ(v.kind, FilterVerdict::kFail);
  EXPECT_EQ(v.plugin, Plugin::kSafetyWatermark);
  EXPECT_EQ(v.reason(f.config), "colo: node CPU usage 88% is over its safety watermark 80%");
  // BE pods are not held to the LS watermark.
  EXPECT_NE(f.filter(be(), &hot).plugin, Plugin::kSafetyWatermark);

  m = testing::metrics(kNow);
  m.memory.used_bytes = 62ll << 30;  // 96.9% > 90%
  NodeEntry full = f.entry("full", m);
  EXPECT_EQ(f.filter(ls(), &full).reason(f.config),
            "colo: node memory usage 97% is over its safety watermark 90%");

  m = testing::metrics(kNow);
  m.ls.guard_active = true;
  m.ls.runq_p99_us = 4200;
  NodeEntry guarded = f.entry("guarded", m);
  EXPECT_EQ(f.filter(ls(), &guarded).reason(f.config),
            "colo: LS latency guard active on the node (run-queue p99 4200us)");

  f.config.safety_watermark.enabled = false;
  EXPECT_EQ(f.filter(ls(), &hot).kind, FilterVerdict::kPass);
}

TEST(ColocationGate, ColoResourcePodsOnlyOnLabelledNodes) {
  Fixture f;
  NodeEntry closed = f.entry("closed", testing::metrics(kNow), false);
  FilterVerdict v = f.filter(be(), &closed);
  EXPECT_EQ(v.kind, FilterVerdict::kUnresolvable);
  EXPECT_NE(v.reason(f.config).find("colo.io/colocation=true"), std::string::npos);
  // Decided by the label alone: even without metrics.
  NodeEntry closed_no_metrics;
  closed_no_metrics.name = "closed2";
  EXPECT_EQ(f.filter(be(), &closed_no_metrics).kind, FilterVerdict::kUnresolvable);
  // LS pods without colo resources go anywhere.
  EXPECT_EQ(f.filter(ls(), &closed).kind, FilterVerdict::kPass);
  NodeEntry open = f.entry("open", testing::metrics(kNow), true);
  EXPECT_EQ(f.filter(be(), &open).kind, FilterVerdict::kPass);
  // A node the cache does not know: failed (resolvable), with the reason.
  FilterVerdict unknown = f.filter(be(), nullptr);
  EXPECT_EQ(unknown.kind, FilterVerdict::kFail);
  EXPECT_NE(unknown.reason(f.config).find("unknown"), std::string::npos);
  f.config.colocation_label = "example.com/pool";
  EXPECT_NE(f.filter(be(), &closed).reason(f.config).find("example.com/pool=true"),
            std::string::npos);
}

TEST(BeFit, NeedsTheBeCapacityRequested) {
  Fixture f;
  NodeMetrics m = testing::metrics(kNow);
  m.be.cpu_m = 1500;
  NodeEntry small = f.entry("small", m);
  FilterVerdict v = f.filter(be(2000), &small);
  EXPECT_EQ(v.kind, FilterVerdict::kFail);
  EXPECT_EQ(v.plugin, Plugin::kBeFit);
  EXPECT_EQ(v.reason(f.config), "colo: BE CPU left 1500m < requested colo.io/be-cpu 2");
  EXPECT_EQ(f.filter(be(1500), &small).kind, FilterVerdict::kPass);
  m = testing::metrics(kNow);
  m.be.memory_bytes = 512ll << 20;
  NodeEntry low_mem = f.entry("lowmem", m);
  EXPECT_EQ(f.filter(be(100, 1ll << 30), &low_mem).reason(f.config),
            "colo: BE memory left 512Mi < requested colo.io/be-memory 1.0Gi");
  PodInfo ot = be(0, 0);
  ot.ot_cpu_m = 5000;
  EXPECT_EQ(f.filter(ot, &low_mem).reason(f.config),
            "colo: OT CPU left 4 < requested colo.io/ot-cpu 5");
}

TEST(BeFit, CountsPodsPlacedSinceTheLastReport) {
  Fixture f;
  NodeMetrics m = testing::metrics(kNow - 5000);  // reported 5 s ago
  m.be.cpu_m = 3000;
  NodeEntry n = f.entry("n", m);
  EXPECT_EQ(f.filter(be(2000), &n).kind, FilterVerdict::kPass);
  // A 2-core BE pod went there 1 s ago: only 1 core is really left.
  f.placements.record("n", {kNow - 1000, 0, 0, 2000, 0});
  EXPECT_EQ(f.filter(be(2000), &n).kind, FilterVerdict::kFail);
  // A placement older than the report is already in the figures.
  Fixture g;
  g.placements.record("n", {kNow - 9000, 0, 0, 2000, 0});
  EXPECT_EQ(g.filter(be(2000), &n).kind, FilterVerdict::kPass);
}

TEST(StaleMetrics, NeverFilterAndScoreNeutrally) {
  Fixture f;
  f.config.cool_down.weight = 0;
  NodeMetrics m = testing::metrics(kNow - 120000);  // 2 min old, limit 60 s
  m.cpu.used_m = 15900;                             // would be filtered and score 0 if believed
  NodeEntry stale = f.entry("stale", m);
  NodeEntry missing;
  missing.name = "missing";
  NodeEntry garbled;
  garbled.name = "garbled";
  garbled.metrics_error = "node metrics: not JSON";
  NodeMetrics future = testing::metrics(kNow + 3600000);
  NodeEntry skewed = f.entry("skewed", future);
  for (const NodeEntry* e : {&stale, &missing, &garbled, &skewed}) {
    EXPECT_EQ(f.filter(ls(), e).kind, FilterVerdict::kPass) << e->name;
  }
  EXPECT_EQ(f.plugins.classify(&stale, kNow), MetricsState::kStale);
  EXPECT_EQ(f.plugins.classify(&missing, kNow), MetricsState::kMissing);
  EXPECT_EQ(f.plugins.classify(&garbled, kNow), MetricsState::kGarbled);
  EXPECT_EQ(f.plugins.classify(&skewed, kNow), MetricsState::kStale);
  EXPECT_EQ(f.plugins.classify(nullptr, kNow), MetricsState::kMissing);
  std::vector<NodeView> views;
  for (const NodeEntry* e : {&stale, &missing, &garbled, &skewed}) {
    views.push_back({e->name, e, f.plugins.classify(e, kNow)});
  }
  std::vector<int64_t> scores;
  f.plugins.score(ls(), views, kNow, &scores);
  for (int64_t s : scores) {
    EXPECT_EQ(s, 5);  // neutral: half of MaxExtenderPriority
  }
  EXPECT_GE(f.metrics.unusable_metrics[size_t(MetricsState::kStale)].load(), 2u);
  EXPECT_GE(f.metrics.unusable_metrics[size_t(MetricsState::kGarbled)].load(), 1u);
}

TEST(NodeInfoRt, LeastLoadedScoresHighest) {
  Fixture f;
  f.config.balance.weight = 0;
  f.config.cool_down.weight = 0;
  NodeMetrics idle = testing::metrics(kNow);
  idle.cpu.used_m = 1000;
  idle.cpu.peak_m = 1500;
  idle.memory.used_bytes = idle.memory.peak_bytes = 4ll << 30;
  NodeMetrics busy = idle;
  busy.cpu.used_m = 12000;
  busy.cpu.peak_m = 13000;
  NodeMetrics spiky = idle;  // idle now, but its profile peaks high
  spiky.cpu.peak_m = 15000;
  NodeEntry a = f.entry("idle", idle), b = f.entry("busy", busy), c = f.entry("spiky", spiky);
  std::vector<NodeView> views = {{"idle", &a, MetricsState::kOk},
                                 {"busy", &b, MetricsState::kOk},
                                 {"spiky", &c, MetricsState::kOk}};
  std::vector<int64_t> s;
  f.plugins.score(ls(), views, kNow, &s);
  EXPECT_GT(s[0], s[1]);
  EXPECT_GT(s[0], s[2]);
  EXPECT_GT(s[2], s[1]);
  for (int64_t x : s) {
    EXPECT_GE(x, 0);
    EXPECT_LE(x, 10);
  }
}

TEST(NodeBalance, PrefersTheClusterRequestToUsageRatio) {
  Fixture f;
  f.config.load_aware.weight = 0;
  f.config.cool_down.weight = 0;
  // Cluster: requests 24000m over usage 12000m = 2.0.
  NodeMetrics typical = testing::metrics(kNow);
  typical.cpu.requests_m = 8000;
  typical.cpu.used_m = 4000;
  NodeMetrics overbooked = typical;  // requests far above use: 4x
  overbooked.cpu.requests_m = 12000;
  overbooked.cpu.used_m = 3000;
  NodeMetrics underbooked = typical;  // used far above requests: 0.8x
  underbooked.cpu.requests_m = 4000;
  underbooked.cpu.used_m = 5000;
  NodeEntry a = f.entry("typical", typical), b = f.entry("over", overbooked),
            c = f.entry("under", underbooked);
  std::vector<NodeView> views = {{"typical", &a, MetricsState::kOk},
                                 {"over", &b, MetricsState::kOk},
                                 {"under", &c, MetricsState::kOk}};
  std::vector<int64_t> s;
  f.plugins.score(ls(), views, kNow, &s);
  EXPECT_GT(s[0], s[1]);
  EXPECT_GT(s[0], s[2]);
}

TEST(CoolDownHotNode, RecentWinnerScoresLowerUntilTheWindowPasses) {
  Fixture f;
  f.config.load_aware.weight = 0;
  f.config.balance.weight = 0;
  f.config.cool_down.window_s = 30;
  NodeEntry a = f.entry("a", testing::metrics(kNow)), b = f.entry("b", testing::metrics(kNow));
  std::vector<NodeView> views = {{"a", &a, MetricsState::kOk}, {"b", &b, MetricsState::kOk}};
  std::vector<int64_t> s;
  f.plugins.score(ls(), views, kNow, &s);  // a tie: "a" wins the round
  EXPECT_EQ(s[0], 10);
  EXPECT_EQ(s[1], 10);
  f.plugins.score(ls(), views, kNow + 1000, &s);  // "a" is cooling down, "b" wins
  EXPECT_LT(s[0], s[1]);
  f.plugins.score(ls(), views, kNow + 2000, &s);  // both cooling: a burst spreads out
  EXPECT_LT(s[0], 10);
  EXPECT_LT(s[1], 10);
  f.plugins.score(ls(), views, kNow + 60000, &s, false);  // window over
  EXPECT_EQ(s[0], 10);
  EXPECT_EQ(s[1], 10);
  EXPECT_EQ(f.metrics.cool_down_wins.load(), 3u);
}

TEST(CoolDownHotNode, PlacedPodsCountAsLoadUntilTheNextReport) {
  Fixture f;
  f.config.balance.weight = 0;
  f.config.cool_down.weight = 0;  // isolate the load effect
  NodeMetrics m = testing::metrics(kNow - 1000);
  NodeEntry a = f.entry("a", m), b = f.entry("b", m);
  f.placements.record("a", {kNow - 500, 8000, 0, 0, 0});  // 8 cores placed after the report
  std::vector<NodeView> views = {{"a", &a, MetricsState::kOk}, {"b", &b, MetricsState::kOk}};
  std::vector<int64_t> s;
  f.plugins.score(ls(), views, kNow, &s);
  EXPECT_LT(s[0], s[1]);
}

// ---- Golden request/response pairs through Extender ----

struct ExtenderFixture {
  Config config = [] {
    Config c;
    c.cool_down.weight = 0;  // deterministic across calls
    return c;
  }();
  NodeCache cache;
  Extender ext{config, "/colo", &cache, [] { return kNow; }};

  static std::string metricsJson(int64_t used_m, bool guard = false) {
    NodeMetrics m = testing::metrics(kNow);
    m.cpu.used_m = used_m;
    m.cpu.peak_m = used_m;
    m.ls.guard_active = guard;
    return encodeNodeMetrics(m);
  }
  std::string post(bool filter, const std::string& body) {
    return testing::post(ext, filter, body);
  }
};

TEST(ExtenderGolden, NodeNamesMode) {
  ExtenderFixture f;
  ArgsParser p;
  for (const auto& [name, open, used] :
       {std::tuple{"n1", true, 2000}, std::tuple{"n2", true, 15000},
        std::tuple{"n3", false, 1000}}) {
    auto ev = p.parseWatchEvent(R"({"type":"ADDED","object":)" +
                                nodeJson(name, open, ExtenderFixture::metricsJson(used)) + "}");
    ASSERT_TRUE(ev.has_value());
    f.cache.upsert(ev->node);
  }
  std::string ls_req =
      R"({"Pod":)" + lsPod() + R"(,"Nodes":null,"NodeNames":["n1","n2","n3","n4"]})";
  EXPECT_EQ(f.post(true, ls_req),
            R"({"Nodes":null,"NodeNames":["n1","n3","n4"],)"
            R"("FailedNodes":{"n2":"colo: node CPU usage 94% is over its safety watermark 80%"},)"
            R"("FailedAndUnresolvableNodes":{},"Error":""})");
  std::string be_req =
      R"({"Pod":)" + bePod() + R"(,"Nodes":null,"NodeNames":["n1","n2","n3","n4"]})";
  EXPECT_EQ(
      f.post(true, be_req),
      R"({"Nodes":null,"NodeNames":["n1","n2"],)"
      R"("FailedNodes":{"n4":"colo: node unknown to colo-extender's node cache (not synced yet?); cannot check its colo.io/colocation label"},)"
      R"("FailedAndUnresolvableNodes":{"n3":"colo: node is not open to colocation (needs label colo.io/colocation=true) and the pod requests colo.io BE/OT resources"},"Error":""})");
  // n1 (12% busy) > n3 (6% busy but no... ) — the exact numbers pin the formula.
  EXPECT_EQ(
      f.post(false, ls_req),
      R"([{"Host":"n1","Score":6},{"Host":"n2","Score":1},{"Host":"n3","Score":6},{"Host":"n4","Score":5}])");
  // Empty list: empty answers.
  std::string empty = R"({"Pod":)" + lsPod() + R"(,"Nodes":null,"NodeNames":[]})";
  EXPECT_EQ(
      f.post(true, empty),
      R"({"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""})");
  EXPECT_EQ(f.post(false, empty), "[]");
}

TEST(ExtenderGolden, NodesModeAnswersWithTheNodeObjects) {
  ExtenderFixture f;
  std::string n1 = nodeJson("n1", true, ExtenderFixture::metricsJson(2000));
  std::string n2 = nodeJson("n2", true, ExtenderFixture::metricsJson(2000, /*guard=*/true));
  std::string n3 = nodeJson("n\u00e9<3>", true, "");
  std::string req = R"({"Pod":)" + lsPod() + R"(,"Nodes":{"metadata":{},"items":[)" + n1 + "," +
                    n2 + "," + n3 + R"(]},"NodeNames":null})";
  std::string expected = R"({"Nodes":{"metadata":{},"items":[)" + n1 + "," + n3 +
                         R"(]},"NodeNames":null,"FailedNodes":{"n2":)"
                         "\"colo: LS latency guard active on the node (run-queue p99 150us)\"},"
                         R"("FailedAndUnresolvableNodes":{},"Error":""})";
  EXPECT_EQ(f.post(true, req), expected);
  // Names are written back escaped the way Go does (<, > as \u003c, \u003e).
  EXPECT_EQ(f.post(false, req),
            "[{\"Host\":\"n1\",\"Score\":8},{\"Host\":\"n2\",\"Score\":8},"
            "{\"Host\":\"n\xc3\xa9\\u003c3\\u003e\",\"Score\":5}]");
}

TEST(ExtenderGolden, UpstreamFilterResultShapeDecodes) {
  // Our response must be what Go's encoding/json produces for ExtenderFilterResult and
  // HostPriorityList: the same keys, PascalCase, null for a nil list.
  ExtenderFixture f;
  std::string out = f.post(true, R"({"Pod":{},"NodeNames":["x"]})");
  for (const char* key : {R"("Nodes":null)", R"("NodeNames":[)", R"("FailedNodes":{)",
                          R"("FailedAndUnresolvableNodes":{)", R"("Error":"")"}) {
    EXPECT_NE(out.find(key), std::string::npos) << key << " in " << out;
  }
}

}  // namespace
}  // namespace colo::extender
