#include "cli/histogram.h"

#include <gtest/gtest.h>

#include <array>

namespace colo::cli {
namespace {

TEST(Histogram, BucketBounds) {
  EXPECT_EQ(bucketLowNs(0), 0u);
  EXPECT_EQ(bucketHighNs(0), 2u);
  EXPECT_EQ(bucketLowNs(10), 1024u);
  EXPECT_EQ(bucketHighNs(10), 2048u);
}

TEST(Histogram, PercentileIsUpperBoundOfBucket) {
  std::array<uint64_t, 36> h{};
  EXPECT_EQ(histPercentileNs(h, 50), 0u);
  h[10] = 90;  // [1024, 2048)
  h[20] = 10;  // [1Mi, 2Mi)
  EXPECT_EQ(histPercentileNs(h, 50), 2048u);
  EXPECT_EQ(histPercentileNs(h, 90), 2048u);
  EXPECT_EQ(histPercentileNs(h, 91), uint64_t{1} << 21);
  EXPECT_EQ(histPercentileNs(h, 99), uint64_t{1} << 21);
  EXPECT_EQ(histPercentileNs(h, 100), uint64_t{1} << 21);
}

TEST(Histogram, RendersBarsBetweenFirstAndLastNonEmptyBucket) {
  std::array<uint64_t, 36> h{};
  h[10] = 300;
  h[12] = 100;
  std::string text = renderHistogram(h, 30);
  EXPECT_EQ(text,
            "range             count  percent\n"
            "[1.02µs, 2.05µs)    300    75.0%  |##############################\n"
            "[2.05µs, 4.10µs)      0     0.0%  |\n"
            "[4.10µs, 8.19µs)    100    25.0%  |##########\n");
}

TEST(Histogram, TinyBucketStillShowsAMark) {
  std::array<uint64_t, 36> h{};
  h[0] = 1000000;
  h[35] = 1;
  std::string text = renderHistogram(h, 40);
  EXPECT_NE(text.find("[0ns, 2ns)"), std::string::npos);
  EXPECT_NE(text.find("[34.4s, 68.7s)          1     0.0%  |#\n"), std::string::npos) << text;
}

TEST(Histogram, EmptySaysSo) {
  std::array<uint64_t, 36> h{};
  EXPECT_EQ(renderHistogram(h), "(no samples)\n");
}

TEST(Histogram, JsonListsEveryBucket) {
  std::array<uint64_t, 36> h{};
  h[3] = 1;
  h[4] = 3;
  auto j = histogramJson(h);
  EXPECT_EQ(j["total"], 4);
  EXPECT_EQ(j["p50_ns"], 32);
  ASSERT_EQ(j["buckets"].size(), 36u);
  EXPECT_EQ(j["buckets"][4]["low_ns"], 16);
  EXPECT_EQ(j["buckets"][4]["high_ns"], 32);
  EXPECT_EQ(j["buckets"][4]["count"], 3);
  EXPECT_DOUBLE_EQ(j["buckets"][4]["percent"].get<double>(), 75.0);
}

}  // namespace
}  // namespace colo::cli
