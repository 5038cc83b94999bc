#include "common/node_metrics.h"

#include <gtest/gtest.h>

#include "test_nodes.h"

namespace colo {
namespace {

TEST(NodeMetrics, RoundTrip) {
  NodeMetrics m = extender::testing::metrics(1763812800123);
  m.ls.guard_active = true;
  std::string json = encodeNodeMetrics(m);
  EXPECT_EQ(json.find(' '), std::string::npos);  // compact
  auto back = decodeNodeMetrics(json);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, m);
}

TEST(NodeMetrics, EncodesTheDocumentedSchema) {
  NodeMetrics m = extender::testing::metrics(1000);
  EXPECT_EQ(
      encodeNodeMetrics(m),
      R"({"v":1,"ts":1000,"win":60,"cpu":{"cap":16000,"used":4000,"avg":3800,"peak":5000,"req":8000},)"
      R"("mem":{"cap":68719476736,"used":17179869184,"avg":17179869184,"peak":21474836480},)"
      R"("ls":{"runq_p99_us":150,"guard":false},"be":{"cpu":6000,"mem":8589934592,"ot_cpu":4000},)"
      R"("wm":{"cpu":80,"mem":90}})");
}

TEST(NodeMetrics, UnknownKeysAreIgnoredAndOptionalOnesDefault) {
  auto m = decodeNodeMetrics(
      R"({"v":1,"ts":5,"future":{"x":[1,2]},"cpu":{"cap":1000,"used":10,"new":1},)"
      R"("mem":{"cap":100,"used":1},"be":{"cpu":1,"mem":2},"wm":{"cpu":80,"mem":90}})");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->cpu.capacity_m, 1000);
  EXPECT_EQ(m->cpu.peak_m, 0);
  EXPECT_FALSE(m->ls.guard_active);
}

TEST(NodeMetrics, BadDocumentsAreErrorsNamingTheProblem) {
  struct Case {
    const char* json;
    const char* expect;
  } cases[] = {
      {"", "not JSON"},
      {"not json", "not a JSON object"},
      {"[1,2]", "not a JSON object"},
      {R"({"ts":5})", "v: missing"},
      {R"({"v":2,"ts":5})", "schema version 2 not supported"},
      {R"({"v":1,"ts":5,"cpu":{"cap":1000,"used":1},"mem":{"cap":1,"used":1},"be":{"cpu":1,"mem":1}})",
       "wm: missing"},
      {R"({"v":1,"ts":5,"cpu":{"used":1},"mem":{"cap":1,"used":1},"be":{"cpu":1,"mem":1},"wm":{"cpu":1,"mem":1}})",
       "cpu.cap: missing"},
      {R"({"v":1,"ts":5,"cpu":{"cap":"16","used":1},"mem":{"cap":1,"used":1},"be":{"cpu":1,"mem":1},"wm":{"cpu":1,"mem":1}})",
       "cpu.cap: not an integer"},
      {R"({"v":1,"ts":5,"cpu":{"cap":0,"used":1},"mem":{"cap":1,"used":1},"be":{"cpu":1,"mem":1},"wm":{"cpu":1,"mem":1}})",
       "cpu.cap: must be > 0"},
      {R"({"v":1,"ts":5,"cpu":{"cap":1,"used":1},"mem":{"cap":1,"used":1},"be":{"cpu":1,"mem":1},"wm":{"cpu":101,"mem":1}})",
       "0..100"},
      {R"({"v":1,"ts":5,"cpu":{"cap":1,"used":1},"mem":{"cap":1,"used":1},"be":{"cpu":1,"mem":1},"wm":{"cpu":1,"mem":1}} trailing)",
       "node metrics:"},
      {R"({"v":1,"ts":5,"ls":{"guard":"yes"}})", "ls.guard: not a boolean"},
      {R"({"v":1,"ts":5,"cpu":{"cap":1,"used":1)", ""},
  };
  for (const Case& c : cases) {
    auto m = decodeNodeMetrics(c.json);
    ASSERT_FALSE(m.has_value()) << c.json;
    EXPECT_NE(m.error().message().find(c.expect), std::string::npos)
        << c.json << " -> " << m.error().message();
  }
}

}  // namespace
}  // namespace colo
