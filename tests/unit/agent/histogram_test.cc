#include "agent/histogram.h"

#include <gtest/gtest.h>

namespace colo::agent {
namespace {

TEST(HistogramTest, PercentileIsUpperBoundOfTheBucket) {
  Hist h{};
  EXPECT_EQ(histPercentile(h, 0.5), std::nullopt);
  h[10] = 50;  // [1024, 2048)
  h[12] = 40;  // [4096, 8192)
  h[20] = 10;  // [1 Mi, 2 Mi)
  EXPECT_EQ(histPercentile(h, 0.50), 2048u);
  EXPECT_EQ(histPercentile(h, 0.51), 8192u);
  EXPECT_EQ(histPercentile(h, 0.90), 8192u);
  EXPECT_EQ(histPercentile(h, 0.91), uint64_t{2} << 20);
  EXPECT_EQ(histPercentile(h, 0.99), uint64_t{2} << 20);
  EXPECT_EQ(histPercentile(h, 1.0), uint64_t{2} << 20);
  Hist zero{};
  zero[0] = 3;  // delays of 0 and 1 ns
  EXPECT_EQ(histPercentile(zero, 0.99), 2u);
}

TEST(HistogramTest, SinglesampleAndSmallCounts) {
  Hist h{};
  h[13] = 1;
  EXPECT_EQ(histPercentile(h, 0.5), 16384u);
  EXPECT_EQ(histPercentile(h, 0.99), 16384u);
}

TEST(HistogramTest, WindowSumsTheLastTicksOnly) {
  HistWindow w(3);
  Hist a{}, b{}, c{}, d{};
  a[1] = 1;
  b[2] = 2;
  c[3] = 3;
  d[1] = 10;
  w.push(a, 1, 100);
  w.push(b, 2, 200);
  EXPECT_EQ(w.ticks(), 2u);
  EXPECT_EQ(w.sum()[1], 1u);
  EXPECT_EQ(w.sum()[2], 2u);
  EXPECT_EQ(w.count(), 3u);
  w.push(c, 3, 300);
  EXPECT_EQ(w.count(), 6u);
  EXPECT_EQ(w.sumNs(), 600u);
  w.push(d, 10, 1000);  // a falls out
  EXPECT_EQ(w.ticks(), 3u);
  EXPECT_EQ(w.sum()[1], 10u);
  EXPECT_EQ(w.sum()[2], 2u);
  EXPECT_EQ(w.sum()[3], 3u);
  EXPECT_EQ(w.count(), 15u);
  EXPECT_EQ(w.sumNs(), 1500u);
  for (int i = 0; i < 3; ++i) {
    w.push(Hist{}, 0, 0);
  }
  EXPECT_EQ(w.count(), 0u);
  EXPECT_EQ(w.sum(), Hist{});
}

TEST(HistogramTest, DeltasAndCounterReset) {
  EXPECT_EQ(counterDelta(10, 15), 5u);
  EXPECT_EQ(counterDelta(10, 10), 0u);
  // Counter restarted (BPF entry re-created): everything counted since is new.
  EXPECT_EQ(counterDelta(100, 7), 7u);
  Hist prev{}, cur{};
  prev[4] = 10;
  cur[4] = 12;
  prev[5] = 9;
  cur[5] = 2;
  Hist d = histDelta(prev, cur);
  EXPECT_EQ(d[4], 2u);
  EXPECT_EQ(d[5], 2u);
  EXPECT_EQ(d[6], 0u);
}

TEST(HistogramTest, HugeTickDeltasSaturateInsteadOfWrapping) {
  HistWindow w(2);
  Hist big{};
  big[7] = uint64_t{1} << 40;
  w.push(big, 1, 1);
  EXPECT_EQ(w.sum()[7], 0xffffffffu);
  w.push(Hist{}, 0, 0);
  w.push(Hist{}, 0, 0);
  EXPECT_EQ(w.sum()[7], 0u);
}

}  // namespace
}  // namespace colo::agent
