// Placements (the CoolDownHotNode state): its running per-node totals against a brute-force sum
// over every placement, as Placements computed them before the totals.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "extender/plugins.h"

namespace colo::extender {
namespace {

constexpr int64_t kNow = 1763812800000;
constexpr int64_t kWindow = 30000;

Placements::Placement placed(int64_t at, int64_t cpu = 500) {
  return {at, cpu, cpu << 20, cpu / 2, cpu << 19};
}

TEST(PlacementTotals, PlacementsAfterTheReportAddUp) {
  Placements p;
  const int64_t report = kNow - 10000;
  p.record("a", placed(report - 1, 100));  // before the report: already in its usage
  p.record("a", placed(report + 1, 200));
  auto s = p.summarize("a", kNow, kWindow, report);
  EXPECT_EQ(s.cpu_m, 200);
  EXPECT_EQ(s.memory_bytes, int64_t{200} << 20);
  EXPECT_EQ(s.be_cpu_m, 100);
  EXPECT_EQ(s.be_memory_bytes, int64_t{200} << 19);
  // Placements recorded after the totals were first asked for join them.
  p.record("a", placed(kNow, 300));
  p.record("b", placed(kNow, 999));
  s = p.summarize("a", kNow, kWindow, report);
  EXPECT_EQ(s.cpu_m, 500);
  EXPECT_EQ(s.be_cpu_m, 250);
  EXPECT_EQ(p.summarize("b", kNow, kWindow, report).cpu_m, 999);
  EXPECT_EQ(p.summarize("c", kNow, kWindow, report).cpu_m, 0);
}

TEST(PlacementTotals, ANewerReportResetsThem) {
  Placements p;
  const int64_t report = kNow - 10000;
  p.record("a", placed(report + 1000, 100));
  p.record("a", placed(report + 2000, 200));
  EXPECT_EQ(p.summarize("a", kNow, kWindow, report).cpu_m, 300);
  // The node reports again between the two placements: only the later one is not in it yet.
  EXPECT_EQ(p.summarize("a", kNow, kWindow, report + 1500).cpu_m, 200);
  p.record("a", placed(report + 3000, 400));
  EXPECT_EQ(p.summarize("a", kNow, kWindow, report + 1500).cpu_m, 600);
  // And again after all of them: nothing left to add, but the wins still cool the node down.
  auto s = p.summarize("a", kNow, kWindow, report + 5000);
  EXPECT_EQ(s.cpu_m, 0);
  EXPECT_GT(s.penalty, 0);
  // An older timestamp (a node whose metrics went back) is re-summed, not guessed.
  EXPECT_EQ(p.summarize("a", kNow, kWindow, report).cpu_m, 700);
}

TEST(PlacementTotals, WinsExpireAfterTheWindowAndPruneDropsUsage) {
  Placements p;
  p.record("a", placed(kNow - 40000, 100));
  p.record("a", placed(kNow - 15000, 200));
  p.record("a", placed(kNow, 400));
  const int64_t report = kNow - 60000;
  auto s = p.summarize("a", kNow, kWindow, report);
  EXPECT_DOUBLE_EQ(s.penalty, 1.0 + 0.5);  // the 40 s old win is outside the 30 s window
  EXPECT_EQ(s.cpu_m, 700);
  s = p.summarize("a", kNow + 30000, kWindow, report);
  EXPECT_DOUBLE_EQ(s.penalty, 0);  // every win at least 30 s old
  EXPECT_EQ(s.cpu_m, 700);         // still placed after the last report
  p.prune(kNow, 20000);            // drops the 40 s old one
  EXPECT_EQ(p.summarize("a", kNow, kWindow, report).cpu_m, 600);
  p.prune(kNow + 100000, 20000);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.summarize("a", kNow, kWindow, report).cpu_m, 0);
}

TEST(PlacementTotals, OutOfOrderRecordsAndTheCap) {
  Placements p;
  p.record("a", placed(kNow - 1000, 1));
  p.record("a", placed(kNow - 3000, 2));  // a request that started earlier finished later
  p.record("a", placed(kNow - 2000, 4));
  EXPECT_EQ(p.summarize("a", kNow, kWindow, kNow - 2500).cpu_m, 5);
  p.prune(kNow, 2500);  // the oldest goes although it was recorded second
  EXPECT_EQ(p.summarize("a", kNow, kWindow, kNow - 10000).cpu_m, 5);
  for (size_t i = 0; i < Placements::kMaxPerNode; ++i) {
    p.record("a", placed(kNow, 1));
  }
  // The cap dropped the two oldest (2000 and 1000 ms old).
  EXPECT_EQ(p.summarize("a", kNow, kWindow, kNow - 10000).cpu_m,
            static_cast<int64_t>(Placements::kMaxPerNode));
}

// Random records (slightly out of order), reports, window expiries and prunes: every summary
// equals the sum over all kept placements (in time order, as they are kept).
TEST(PlacementTotals, MatchBruteForceSums) {
  struct Ref {
    std::string node;
    Placements::Placement p;
  };
  std::vector<Ref> ref;  // stable-sorted by time per node
  Placements p;
  std::mt19937_64 rng(42);
  const std::vector<std::string> nodes = {"n0", "n1", "n2"};
  std::vector<int64_t> report = {kNow, kNow, kNow};
  int64_t now = kNow;
  for (int step = 0; step < 5000; ++step) {
    now += static_cast<int64_t>(rng() % 400);
    size_t n = rng() % nodes.size();
    switch (rng() % 4) {
      case 0:
      case 1: {
        auto pl =
            placed(now - static_cast<int64_t>(rng() % 50), 1 + static_cast<int64_t>(rng() % 900));
        p.record(nodes[n], pl);
        // Keep ref ordered by time (stable): insert after the last entry not later.
        auto at = std::upper_bound(ref.begin(), ref.end(), pl.at_ms,
                                   [](int64_t t, const Ref& r) { return t < r.p.at_ms; });
        ref.insert(at, {nodes[n], pl});
        break;
      }
      case 2:
        report[n] = now - static_cast<int64_t>(rng() % 3000);
        break;
      case 3:
        if (rng() % 8 == 0) {
          const int64_t keep = 60000;
          p.prune(now, keep);
          std::erase_if(ref, [&](const Ref& r) { return now - r.p.at_ms > keep; });
        }
        break;
    }
    for (size_t k = 0; k < nodes.size(); ++k) {
      Placements::Summary want;
      for (const Ref& r : ref) {
        if (r.node != nodes[k]) {
          continue;
        }
        int64_t age = now - r.p.at_ms;
        if (age >= 0 && age < kWindow) {
          want.penalty += 1.0 - static_cast<double>(age) / static_cast<double>(kWindow);
        }
        if (r.p.at_ms > report[k]) {
          want.cpu_m += r.p.cpu_m;
          want.memory_bytes += r.p.memory_bytes;
          want.be_cpu_m += r.p.be_cpu_m;
          want.be_memory_bytes += r.p.be_memory_bytes;
        }
      }
      auto got = p.summarize(nodes[k], now, kWindow, report[k]);
      ASSERT_DOUBLE_EQ(got.penalty, want.penalty) << "step " << step << " node " << k;
      ASSERT_EQ(got.cpu_m, want.cpu_m) << "step " << step << " node " << k;
      ASSERT_EQ(got.memory_bytes, want.memory_bytes);
      ASSERT_EQ(got.be_cpu_m, want.be_cpu_m);
      ASSERT_EQ(got.be_memory_bytes, want.be_memory_bytes);
    }
  }
}

}  // namespace
}  // namespace colo::extender
