// The cool-down state reached through the node cache: each cache entry links to its node's state
// in Placements, which belongs to the name (it follows a node out of the cache and back, and
// through a relist), while Nodes-mode candidates and names unknown to the cache find the same
// state by name.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "extender/extender.h"
#include "extender/node_cache.h"
#include "extender/placements.h"
#include "extender/plugins.h"
#include "extender/request.h"
#include "test_nodes.h"

namespace colo::extender {
namespace {

constexpr int64_t kNow = 1763812800000;
constexpr int64_t kWindow = 30000;

NodeEntry node(std::string name, int64_t report_ms = kNow - 60000, int64_t used_m = 4000) {
  NodeEntry e;
  e.name = std::move(name);
  e.colocation_open = true;
  e.has_metrics = true;
  e.metrics = testing::metrics(report_ms);
  e.metrics.cpu.used_m = used_m;
  return e;
}

const NodeEntry* entryOf(const NodeCache& cache, std::string_view name) {
  return cache.readIndex([&](const NodeCache::Index& idx) { return idx.find(name); });
}

// The candidate as a NodeNames request sees it: the cache entry when there is one.
NodeView viewOf(const NodeCache& cache, std::string_view name) {
  const NodeEntry* e = entryOf(cache, name);
  return NodeView{name, e, e != nullptr ? MetricsState::kOk : MetricsState::kMissing};
}

PlacementSummary summaryOf(const Placements& p, const NodeView& v, int64_t now = kNow) {
  std::vector<PlacementSummary> out;
  p.summarizeMany(std::span<const NodeView>(&v, 1), now, kWindow, &out);
  return out[0];
}

Placement win(int64_t at, int64_t cpu = 500) { return {at, cpu, cpu << 20, cpu / 2, cpu << 19}; }

TEST(CoolDownState, CacheEntriesLinkToTheStateOfTheirName) {
  NodeCache cache;
  Extender ext{Config{}, "/colo", &cache, [] { return kNow; }};
  EXPECT_EQ(&ext.placements(), &cache.placements());  // one state for both node modes
  Placements& p = cache.placements();
  p.record("a", win(kNow - 1000));  // before the node is known
  cache.upsert(node("a"));
  cache.upsert(node("b"));
  const NodeEntry* a = entryOf(cache, "a");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(a->placements, nullptr);
  EXPECT_NE(entryOf(cache, "b")->placements, nullptr);
  EXPECT_NE(a->placements, entryOf(cache, "b")->placements);
  EXPECT_EQ(p.nodeStates(), 2u);
  // The placement recorded by name is the one the cache entry reaches.
  PlacementSummary s = summaryOf(p, viewOf(cache, "a"));
  EXPECT_DOUBLE_EQ(s.penalty, 1.0 - 1000.0 / kWindow);
  EXPECT_EQ(s.cpu_m, 500);
  // A win recorded through the entry is seen by name.
  p.record(viewOf(cache, "a"), win(kNow));
  EXPECT_EQ(p.summarize("a", kNow, kWindow, kNow - 60000).cpu_m, 1000);
  EXPECT_EQ(summaryOf(p, viewOf(cache, "b")).penalty, 0);
  // A modified node keeps its entry and its link.
  NodePlacements* link = a->placements;
  cache.upsert(node("a", kNow - 500, 9000));
  EXPECT_EQ(entryOf(cache, "a"), a);
  EXPECT_EQ(a->placements, link);
  EXPECT_EQ(a->metrics.cpu.used_m, 9000);
  // Reported after the first win: only the second one is still to add.
  EXPECT_EQ(summaryOf(p, viewOf(cache, "a")).cpu_m, 500);
}

TEST(CoolDownState, FollowsANodeThatLeavesAndReentersTheCache) {
  NodeCache cache;
  Placements& p = cache.placements();
  cache.upsert(node("a"));
  cache.upsert(node("b"));
  p.record(viewOf(cache, "a"), win(kNow - 2000, 100));
  p.record(viewOf(cache, "a"), win(kNow - 1000, 200));
  const PlacementSummary before = summaryOf(p, viewOf(cache, "a"));
  EXPECT_EQ(before.cpu_m, 300);

  cache.erase("a");
  EXPECT_EQ(entryOf(cache, "a"), nullptr);
  EXPECT_EQ(p.nodeStates(), 2u);  // a's state holds placements: kept
  // While it is unknown to the cache, a NodeNames candidate named a finds it by name.
  NodeView unknown = viewOf(cache, "a");
  EXPECT_EQ(unknown.entry, nullptr);
  EXPECT_DOUBLE_EQ(summaryOf(p, unknown).penalty, before.penalty);
  p.record(unknown, win(kNow - 500, 400));  // it can still win as an unknown node

  cache.upsert(node("a"));
  const NodeEntry* back = entryOf(cache, "a");
  ASSERT_NE(back, nullptr);
  ASSERT_NE(back->placements, nullptr);
  PlacementSummary s = summaryOf(p, viewOf(cache, "a"));
  EXPECT_EQ(s.cpu_m, 700);
  EXPECT_DOUBLE_EQ(s.penalty, before.penalty + (1.0 - 500.0 / kWindow));

  // Pruned empty, the states of cached nodes stay (linked); a removed node's state goes with its
  // last placement, or at once when it had none.
  p.prune(kNow + 100000, 60000);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.nodeStates(), 2u);
  cache.erase("b");
  EXPECT_EQ(p.nodeStates(), 1u);
  p.record(viewOf(cache, "a"), win(kNow));
  cache.erase("a");
  EXPECT_EQ(p.nodeStates(), 1u);
  EXPECT_EQ(p.summarize("a", kNow, kWindow, 0).cpu_m, 500);
  p.prune(kNow + 100000, 60000);
  EXPECT_EQ(p.nodeStates(), 0u);
}

TEST(CoolDownState, ARelistKeepsTheStatesOfTheNodesThatRemain) {
  NodeCache cache;
  Placements& p = cache.placements();
  std::vector<NodeEntry> first;
  for (const char* n : {"a", "b", "c"}) {
    first.push_back(node(n));
  }
  cache.replaceAll(std::move(first));
  for (const char* n : {"a", "b"}) {
    p.record(viewOf(cache, n), win(kNow - 100));
  }
  std::vector<NodeEntry> second;
  for (const char* n : {"b", "c", "d"}) {
    second.push_back(node(n));
  }
  cache.replaceAll(std::move(second));
  EXPECT_EQ(entryOf(cache, "a"), nullptr);
  EXPECT_EQ(summaryOf(p, viewOf(cache, "b")).cpu_m, 500);               // through the new entry
  EXPECT_EQ(p.summarize("a", kNow, kWindow, kNow - 60000).cpu_m, 500);  // by name
  EXPECT_GT(summaryOf(p, viewOf(cache, "a")).penalty, 0);
  EXPECT_EQ(summaryOf(p, viewOf(cache, "d")).cpu_m, 0);
  EXPECT_EQ(p.nodeStates(), 4u);  // a (placements), b, c, d (linked)
  p.prune(kNow + 100000, 60000);
  EXPECT_EQ(p.nodeStates(), 3u);
  std::vector<NodeEntry> none;
  cache.replaceAll(std::move(none));
  EXPECT_EQ(p.nodeStates(), 0u);
}

// Records, reports, cache churn (adds, updates, removals, relists) and prunes in random order:
// every candidate's summary, through its cache entry or by name, equals the brute-force sum over
// the placements of its name; a state is kept exactly while its name is cached or has placements.
TEST(CoolDownState, MatchesBruteForceSumsThroughCacheChurn) {
  struct Ref {
    std::string node;
    Placement p;
  };
  std::vector<Ref> ref;  // stable-sorted by time
  NodeCache cache;
  Placements& p = cache.placements();
  std::mt19937_64 rng(7);
  const std::vector<std::string> names = {"n0", "n1", "n2", "n3", "n4"};
  std::map<std::string, int64_t> report;
  for (const auto& n : names) {
    report[n] = kNow;
  }
  std::set<std::string> cached;
  std::vector<NodeEntry> request_nodes(names.size());
  int64_t now = kNow;
  for (int step = 0; step < 4000; ++step) {
    now += static_cast<int64_t>(rng() % 400);
    const std::string& n = names[rng() % names.size()];
    switch (rng() % 8) {
      case 0:
      case 1:
      case 2: {
        Placement pl =
            win(now - static_cast<int64_t>(rng() % 50), 1 + static_cast<int64_t>(rng() % 900));
        if (rng() % 2 == 0) {
          p.record(viewOf(cache, n), pl);
        } else {
          p.record(n, pl);
        }
        auto at = std::upper_bound(ref.begin(), ref.end(), pl.at_ms,
                                   [](int64_t t, const Ref& r) { return t < r.p.at_ms; });
        ref.insert(at, {n, pl});
        break;
      }
      case 3:
        report[n] = now - static_cast<int64_t>(rng() % 3000);
        if (cached.contains(n)) {
          cache.upsert(node(n, report[n]));
        }
        break;
      case 4:
        cache.upsert(node(n, report[n]));
        cached.insert(n);
        break;
      case 5:
        cache.erase(n);
        cached.erase(n);
        break;
      case 6:
        if (rng() % 4 == 0) {
          std::vector<NodeEntry> list;
          cached.clear();
          for (const auto& m : names) {
            if (rng() % 2 == 0) {
              list.push_back(node(m, report[m]));
              cached.insert(m);
            }
          }
          cache.replaceAll(std::move(list));
        }
        break;
      case 7:
        if (rng() % 4 == 0) {
          const int64_t keep = 60000;
          p.prune(now, keep);
          std::erase_if(ref, [&](const Ref& r) { return now - r.p.at_ms > keep; });
        }
        break;
    }
    // Every name as one request sees it (so one summarizeMany serves linked and unlinked ones).
    std::vector<NodeView> views;
    for (size_t k = 0; k < names.size(); ++k) {
      NodeView v = viewOf(cache, names[k]);
      if (v.entry == nullptr) {
        // Not cached: a Nodes-mode node, its metrics in the request and no link.
        request_nodes[k] = node(names[k], report[names[k]]);
        v = NodeView{names[k], &request_nodes[k], MetricsState::kOk};
      }
      views.push_back(v);
    }
    std::vector<PlacementSummary> got;
    p.summarizeMany(views, now, kWindow, &got);
    std::set<std::string> with_placements;
    for (size_t k = 0; k < names.size(); ++k) {
      PlacementSummary want;
      for (const Ref& r : ref) {
        if (r.node != names[k]) {
          continue;
        }
        with_placements.insert(r.node);
        int64_t age = now - r.p.at_ms;
        if (age >= 0 && age < kWindow) {
          want.penalty += 1.0 - static_cast<double>(age) / static_cast<double>(kWindow);
        }
        if (r.p.at_ms > report[names[k]]) {
          want.cpu_m += r.p.cpu_m;
          want.memory_bytes += r.p.memory_bytes;
          want.be_cpu_m += r.p.be_cpu_m;
          want.be_memory_bytes += r.p.be_memory_bytes;
        }
      }
      ASSERT_DOUBLE_EQ(got[k].penalty, want.penalty) << "step " << step << " node " << k;
      ASSERT_EQ(got[k].cpu_m, want.cpu_m) << "step " << step << " node " << k;
      ASSERT_EQ(got[k].memory_bytes, want.memory_bytes);
      ASSERT_EQ(got[k].be_cpu_m, want.be_cpu_m);
      ASSERT_EQ(got[k].be_memory_bytes, want.be_memory_bytes);
    }
    std::set<std::string> live = cached;
    live.insert(with_placements.begin(), with_placements.end());
    ASSERT_EQ(p.nodeStates(), live.size()) << "step " << step;
    ASSERT_EQ(p.empty(), ref.empty());
  }
}

// A node that is only in the request (Nodes mode), or only named (NodeNames mode, not cached),
// cools down by name like a cached one, and the state is the cache entry's once it joins.
TEST(CoolDownState, NodesModeAndUnknownNamesShareTheStateByName) {
  Config config;  // load and cool-down only, one win cancels the cool-down score
  config.load_aware.weight = 10;
  config.balance.weight = 0;
  config.cool_down.weight = 10;
  config.cool_down.penalty_per_win = 1.0;
  NodeCache cache;
  cache.upsert(node("a", kNow - 1000, 15000));
  Extender ext{config, "/colo", &cache, [] { return kNow; }};
  Placements& p = ext.placements();
  auto nodeJson = [](std::string_view name, int64_t used_m) {
    NodeMetrics m = testing::metrics(kNow - 1000);
    m.cpu.used_m = used_m;
    return testing::nodeJson(name, true, encodeNodeMetrics(m));
  };
  const std::string nodes_req = R"({"Pod":)" + testing::lsPod() +
                                R"(,"Nodes":{"metadata":{},"items":[)" + nodeJson("a", 15000) +
                                "," + nodeJson("x", 4000) + R"(]},"NodeNames":null})";
  auto penalty = [&](std::string_view name) {
    return p.summarize(name, kNow, kWindow, kNow).penalty;
  };
  // x (idle) wins; it is not cached, so its win is recorded by name.
  EXPECT_EQ(testing::post(ext, false, nodes_req),
            R"([{"Host":"a","Score":6},{"Host":"x","Score":8}])");
  EXPECT_DOUBLE_EQ(penalty("x"), 1.0);
  // Cooled down, x loses to a; a's Nodes-mode win lands in the state its cache entry links to.
  EXPECT_EQ(testing::post(ext, false, nodes_req),
            R"([{"Host":"a","Score":6},{"Host":"x","Score":3}])");
  EXPECT_DOUBLE_EQ(summaryOf(p, viewOf(cache, "a")).penalty, 1.0);
  EXPECT_DOUBLE_EQ(penalty("x"), 1.0);
  // NodeNames: a through its cache entry (cooled down), x unknown (neutral load, its state found
  // by name: cooled down too). x wins again, recorded by name.
  const std::string names_req =
      R"({"Pod":)" + testing::lsPod() + R"(,"Nodes":null,"NodeNames":["a","x"]})";
  EXPECT_EQ(testing::post(ext, false, names_req),
            R"([{"Host":"a","Score":1},{"Host":"x","Score":3}])");
  EXPECT_DOUBLE_EQ(penalty("x"), 2.0);
  EXPECT_DOUBLE_EQ(penalty("a"), 1.0);
  // Once cached, x's entry links to that state.
  cache.upsert(node("x", kNow - 1000));
  const NodeView x = viewOf(cache, "x");
  ASSERT_NE(x.entry, nullptr);
  EXPECT_DOUBLE_EQ(summaryOf(p, x).penalty, 2.0);
  EXPECT_EQ(summaryOf(p, x).cpu_m, 1000);  // both of x's wins came after its report
  EXPECT_EQ(p.nodeStates(), 2u);
}

// Several request threads score and record winners while the watcher thread changes the cache
// (adds, removes, relists): no win is lost, whichever node it went to and whether the node was
// cached at that moment. (Meant for a ThreadSanitizer build as much as for this one.)
TEST(CoolDownState, RequestThreadsAndCacheChurn) {
  NodeCache cache;
  std::vector<NodeEntry> list;
  for (int i = 0; i < 50; ++i) {
    list.push_back(node(fmt::format("n{}", i), kNow - 1000));
  }
  cache.replaceAll(std::move(list));
  Extender ext{Config{}, "/colo", &cache, [] { return kNow; }};
  std::string names;
  for (int i = 0; i < 60; ++i) {  // n50..n59 come and go
    names += (i > 0 ? ",\"" : "\"") + fmt::format("n{}", i) + "\"";
  }
  const std::string req =
      R"({"Pod":)" + testing::lsPod() + R"(,"Nodes":null,"NodeNames":[)" + names + "]}";
  constexpr int kThreads = 3;
  constexpr int kRounds = 200;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        testing::post(ext, (r + t) % 3 == 0, req);
      }
      done.fetch_add(1);
    });
  }
  for (int i = 0; done.load() < kThreads; ++i) {
    const std::string n = fmt::format("n{}", 50 + i % 10);
    if (i % 3 == 2) {
      cache.erase(n);
    } else {
      cache.upsert(node(n, kNow - 1000));
    }
    if (i % 97 == 96) {
      std::vector<NodeEntry> relist;
      for (int k = 0; k < 55; ++k) {
        relist.push_back(node(fmt::format("n{}", k), kNow - 1000));
      }
      cache.replaceAll(std::move(relist));
    }
  }
  for (auto& th : threads) {
    th.join();
  }
  // Every prioritize recorded one win at kNow (penalty 1 each): the penalties add up to them.
  uint64_t wins = ext.metrics().cool_down_wins.load();
  EXPECT_GT(wins, 0u);
  double penalty = 0;
  for (int i = 0; i < 60; ++i) {
    penalty += ext.placements().summarize(fmt::format("n{}", i), kNow, kWindow, kNow).penalty;
  }
  EXPECT_DOUBLE_EQ(penalty, static_cast<double>(wins));
}

}  // namespace
}  // namespace colo::extender
