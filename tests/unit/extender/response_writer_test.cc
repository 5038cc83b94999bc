// The answers' writers: prioritize's HostPriorityList (plain names copied, others escaped), the
// score rounding, and filter reasons written straight as JSON strings.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "extender/extender.h"
#include "extender/json_writer.h"
#include "extender/node_cache.h"
#include "extender/plugins.h"
#include "test_nodes.h"

namespace colo::extender {
namespace {

constexpr int64_t kNow = 1763812800000;

TEST(HostPriorityList, PlainNamesAndNamesThatNeedEscaping) {
  Config config;
  config.cool_down.weight = 0;  // every unknown node scores 5
  NodeCache cache;
  Extender ext{config, "/colo", &cache, [] { return kNow; }};
  std::string names, want = "[";
  for (int i = 0; i < 300; ++i) {
    std::string n = fmt::format("node-{}.eu-west-1.compute.internal", i);
    names += (i > 0 ? "," : "") + ("\"" + n + "\"");
    want += (i > 0 ? "," : "") + fmt::format(R"({{"Host":"{}","Score":5}})", n);
  }
  want += "]";
  const std::string req = R"({"Pod":)" + testing::lsPod() + R"(,"Nodes":null,"NodeNames":[)";
  EXPECT_EQ(testing::post(ext, false, req + names + "]}"), want);
  // One name needing escapes: the whole list is written by JsonWriter, with the same bytes for
  // the plain names.
  want.back() = ',';
  want += R"({"Host":"a\u003cb\"\u0026","Score":5}])";
  EXPECT_EQ(testing::post(ext, false, req + names + R"(,"a<b\"&"]})"), want);
  EXPECT_EQ(testing::post(ext, false, req + "]}"), "[]");
}

TEST(RoundHalfAway, AgreesWithLlround) {
  std::vector<double> xs = {
      0.0,  -0.0,   0.5,    1.5,        2.5,    9.5,  10.0, 0.49999999999999994,
      4.5,  1e15,   0x1p52, 0x1p52 + 1, 0x1p53, 1e18, -0.5, -2.5,
      -7.2, 1e-300, 5e-324};
  for (int i = 0; i <= 1000; ++i) {
    const double h = i / 2.0;
    xs.push_back(h);
    xs.push_back(std::nextafter(h, 0.0));
    xs.push_back(std::nextafter(h, 1e9));
  }
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> d(0.0, 10.0);
  for (int i = 0; i < 100000; ++i) {
    xs.push_back(d(rng));
  }
  for (double x : xs) {
    EXPECT_EQ(roundHalfAway(x), std::llround(x)) << fmt::format("{:a}", x);
  }
}

TEST(FilterReason, JsonFormIsTheEscapedText) {
  using W = FilterVerdict::Why;
  Config plain;
  Config odd;  // a label with characters JSON escapes
  odd.colocation_label = "colo.io/<open>&\"yes\"";
  odd.colocation_label_value = "a\\b";
  std::vector<int64_t> values = {0,
                                 1,
                                 999,
                                 1000,
                                 1500,
                                 -2000,
                                 123456789,
                                 (1ll << 20) + 7,
                                 (5ll << 30) / 4,
                                 9000000000000000000};
  for (const Config* c : {&plain, &odd}) {
    for (W why : {W::kNone, W::kNotOpen, W::kUnknownNode, W::kLatencyGuard, W::kCpuOverWatermark,
                  W::kMemoryOverWatermark, W::kBeCpu, W::kBeMemory, W::kOtCpu}) {
      for (int64_t v : values) {
        FilterVerdict verdict{FilterVerdict::kFail, Plugin::kBeFit, why, v, values[2]};
        std::string want;
        JsonWriter(&want).str(verdict.reason(*c));
        std::string got = "x";  // appends
        verdict.appendJsonReason(*c, &got);
        EXPECT_EQ(got, "x" + want) << static_cast<int>(why) << " " << v;
      }
    }
  }
}

}  // namespace
}  // namespace colo::extender
