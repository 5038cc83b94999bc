// The NodeNames fast path fuses the per-node passes (lookup, classification, scores written as
// they are computed, filter answers built from per-node verdicts) and splits large requests over
// helper threads (requestParallelism): its answers must be byte for byte those of the
// straightforward path. The references here are the per-node arithmetic and answer layout as they
// were before the fusion, kept in this file on purpose.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/http.h"
#include "extender/chunk_pool.h"
#include "extender/extender.h"
#include "extender/json_writer.h"
#include "extender/node_cache.h"
#include "extender/plugins.h"
#include "extender/request.h"
#include "test_nodes.h"

namespace colo::extender {
namespace {

constexpr int64_t kNow = 1763812800000;

// The score of one node as Plugins::score computed it before the fusion (commit e083b89).
int64_t referenceScore(const Config& c, const PodInfo& pod, const NodeView& n,
                       const Placements::Summary& placed, double cluster_ratio) {
  const int64_t pod_cpu = pod.cpu_request_m > 0             ? pod.cpu_request_m
                          : pod.be_cpu_m + pod.ot_cpu_m > 0 ? pod.be_cpu_m + pod.ot_cpu_m
                                                            : c.cool_down.default_pod_cpu_m;
  const int64_t pod_mem = pod.memory_request_bytes > 0 ? pod.memory_request_bytes
                          : pod.be_memory_bytes > 0    ? pod.be_memory_bytes
                                                       : c.cool_down.default_pod_memory_bytes;
  const double total_weight = c.load_aware.weight + c.balance.weight + c.cool_down.weight;
  const double now_w =
      c.load_aware.now_weight / (c.load_aware.now_weight + c.load_aware.peak_weight);
  const double peak_w = 1.0 - now_w;
  const bool usable = n.state == MetricsState::kOk;
  double weighted = 0;
  if (c.load_aware.weight > 0) {
    double s = 0.5;
    if (usable) {
      const NodeMetrics& m = n.entry->metrics;
      double cpu_peak = static_cast<double>(m.cpu.peak_m > 0 ? m.cpu.peak_m : m.cpu.used_m);
      double mem_peak =
          static_cast<double>(m.memory.peak_bytes > 0 ? m.memory.peak_bytes : m.memory.used_bytes);
      double cpu = now_w * static_cast<double>(m.cpu.used_m) + peak_w * cpu_peak +
                   static_cast<double>(placed.cpu_m + pod_cpu);
      double mem = now_w * static_cast<double>(m.memory.used_bytes) + peak_w * mem_peak +
                   static_cast<double>(placed.memory_bytes + pod_mem);
      double load = std::max(cpu / static_cast<double>(m.cpu.capacity_m),
                             mem / static_cast<double>(m.memory.capacity_bytes));
      s = std::clamp(1.0 - load, 0.0, 1.0);
    }
    weighted += c.load_aware.weight * s;
  }
  if (c.balance.weight > 0) {
    double s = 0.5;
    const NodeMetrics* m = usable ? &n.entry->metrics : nullptr;
    if (m != nullptr && cluster_ratio > 0 && m->cpu.requests_m > 0) {
      double used = static_cast<double>(std::max<int64_t>(m->cpu.used_m + placed.cpu_m, 1));
      double ratio =
          static_cast<double>(m->cpu.requests_m + placed.cpu_m + pod.cpu_request_m) / used;
      s = 1.0 / (1.0 + std::fabs(std::log2(ratio / cluster_ratio)));
    }
    weighted += c.balance.weight * s;
  }
  if (c.cool_down.weight > 0) {
    double s = std::clamp(1.0 - placed.penalty * c.cool_down.penalty_per_win, 0.0, 1.0);
    weighted += c.cool_down.weight * s;
  }
  int64_t score = total_weight > 0 ? std::llround(10.0 * weighted / total_weight) : 5;
  return std::clamp<int64_t>(score, 0, 10);
}

struct Reference {
  std::string filter, prioritize;
  std::string winner;  // "" when prioritize records none
};

// Both answers for `names`, from the cache's entries, Plugins::filter and the old layout (every
// string through JsonWriter::str, reasons as plain text escaped).
Reference reference(const Config& c, NodeCache& cache, const PodInfo& pod,
                    const std::vector<std::string>& names, int64_t now) {
  ExtenderMetrics metrics;
  Plugins plugins(c, &metrics, &cache.placements());
  std::vector<NodeView> views;
  for (const std::string& name : names) {
    const NodeEntry* e =
        cache.readIndex([&](const NodeCache::Index& idx) { return idx.find(name); });
    views.push_back(NodeView{name, e, plugins.classify(e, now, name), {}});
  }
  std::vector<Placements::Summary> placed;
  cache.placements().summarizeMany(views, now, int64_t{c.cool_down.window_s} * 1000, &placed);
  Reference ref;
  std::string pass, failed, unresolvable;
  JsonWriter pw(&pass), fw(&failed), uw(&unresolvable);
  for (size_t i = 0; i < views.size(); ++i) {
    FilterVerdict v = plugins.filter(pod, views[i], placed[i]);
    if (v.kind == FilterVerdict::kPass) {
      if (!pass.empty()) {
        pw.ch(',');
      }
      pw.str(views[i].name);
      continue;
    }
    std::string& into = v.kind == FilterVerdict::kFail ? failed : unresolvable;
    JsonWriter& w = v.kind == FilterVerdict::kFail ? fw : uw;
    if (!into.empty()) {
      w.ch(',');
    }
    w.key(views[i].name);
    w.str(v.reason(c));
  }
  ref.filter = R"({"Nodes":null,"NodeNames":[)" + pass + R"(],"FailedNodes":{)" + failed +
               R"(},"FailedAndUnresolvableNodes":{)" + unresolvable + R"(},"Error":""})";
  double sum_req = 0, sum_used = 0;
  if (c.balance.weight > 0) {
    for (const NodeView& n : views) {
      if (n.state == MetricsState::kOk && n.entry->metrics.cpu.requests_m > 0 &&
          n.entry->metrics.cpu.used_m > 0) {
        sum_req += static_cast<double>(n.entry->metrics.cpu.requests_m);
        sum_used += static_cast<double>(n.entry->metrics.cpu.used_m);
      }
    }
  }
  const double cluster_ratio = sum_used > 0 ? sum_req / sum_used : 0;
  JsonWriter w(&ref.prioritize);
  w.ch('[');
  int64_t best = -1;
  for (size_t i = 0; i < views.size(); ++i) {
    const int64_t score = referenceScore(c, pod, views[i], placed[i], cluster_ratio);
    if (score > best) {
      best = score;
      ref.winner = std::string(views[i].name);
    }
    if (i > 0) {
      w.ch(',');
    }
    w.raw(R"({"Host":)");
    w.str(views[i].name);
    w.raw(R"(,"Score":)");
    w.num(score);
    w.ch('}');
  }
  w.ch(']');
  if (c.cool_down.weight == 0) {
    ref.winner.clear();
  }
  return ref;
}

// huge: now and then CPU requests so large that NodeBalance's sums are no longer exact integers
// in a double (the parallel path then adds them in order, as the sequential one).
NodeEntry randomNode(std::mt19937_64& rng, std::string name, int64_t now, bool huge = false) {
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  NodeEntry e;
  e.name = std::move(name);
  e.colocation_open = pick(0, 3) != 0;
  const int64_t kind = pick(0, 19);
  e.has_metrics = kind != 0;
  if (kind == 1) {
    e.metrics_error = "cpu.cap: expected a number";
  }
  NodeMetrics& m = e.metrics;
  // Mostly fresh, some older than maxMetricsAgeSeconds (60 s) or in the future.
  m.timestamp_ms = now - (kind == 2   ? pick(61000, 500000)
                          : kind == 3 ? -pick(61000, 90000)
                                      : pick(0, 59000));
  m.cpu.capacity_m = pick(1000, 64000);
  m.cpu.used_m = pick(0, m.cpu.capacity_m * 6 / 5);
  m.cpu.peak_m = pick(0, 2) == 0 ? 0 : pick(0, m.cpu.capacity_m);
  m.cpu.requests_m = pick(0, 3) == 0 ? 0 : pick(0, m.cpu.capacity_m * 2);
  if (huge && pick(0, 9) == 0) {
    m.cpu.requests_m = pick(int64_t{1} << 50, int64_t{1} << 56);
  }
  m.memory.capacity_bytes = pick(1, 512) << 28;
  m.memory.used_bytes = pick(0, m.memory.capacity_bytes);
  m.memory.peak_bytes = pick(0, 2) == 0 ? 0 : pick(0, m.memory.capacity_bytes);
  m.ls.runq_p99_us = pick(0, 5000);
  m.ls.guard_active = pick(0, 30) == 0;
  m.be.cpu_m = pick(-1000, 12000);
  m.be.memory_bytes = pick(-(int64_t{1} << 30), int64_t{40} << 30);
  m.be.ot_cpu_m = pick(0, 8000);
  m.watermark.cpu_pct = static_cast<int>(pick(0, 100));
  m.watermark.memory_pct = static_cast<int>(pick(0, 100));
  return e;
}

std::string podJson(std::mt19937_64& rng, bool be) {
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::string requests =
      be ? fmt::format(R"("colo.io/be-cpu":"{}","colo.io/be-memory":"{}Mi")", pick(0, 4000),
                       pick(0, 8192))
         : fmt::format(R"("cpu":"{}m","memory":"{}Mi")", pick(0, 4000), pick(0, 8192));
  return fmt::format(
      R"({{"metadata":{{"name":"p","namespace":"n","uid":"u","labels":{{{}}},"creationTimestamp":null}},)"
      R"("spec":{{"containers":[{{"name":"c","resources":{{"requests":{{{}}}}}}}]}},"status":{{}}}})",
      be ? R"("colo.io/qos":"BE")" : "", requests);
}

// requestParallelism and parallelMinNodes of a run.
struct Parallel {
  int parallelism, min_nodes;
};

class FusedAnswers : public ::testing::TestWithParam<Parallel> {};

TEST_P(FusedAnswers, SameBytesAsTheReferenceOverRandomClustersAndConfigs) {
  std::mt19937_64 rng(7);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  int winners = 0, failed_rounds = 0;
  for (int cluster = 0; cluster < 12; ++cluster) {
    Config config;
    config.load_aware.weight = static_cast<int>(pick(0, 4));
    config.balance.weight = static_cast<int>(pick(0, 2));
    config.cool_down.weight = static_cast<int>(pick(0, 3));
    config.load_aware.now_weight = static_cast<double>(pick(1, 9)) / 10;
    config.load_aware.peak_weight = 1 - config.load_aware.now_weight;
    config.cool_down.window_s = static_cast<int>(pick(5, 60));
    config.cool_down.penalty_per_win = static_cast<double>(pick(1, 100)) / 100;
    config.request_parallelism = GetParam().parallelism;
    config.parallel_min_nodes = GetParam().min_nodes;
    const bool huge = pick(0, 3) == 0;
    int64_t now = kNow;
    NodeCache cache;
    std::vector<std::string> names;
    const int n = static_cast<int>(pick(1, 400));
    for (int i = 0; i < n; ++i) {
      // Some names need JSON escaping: those answers take the slower writers.
      std::string name = pick(0, 60) == 0 ? fmt::format("odd<{}>\"&", i)
                         : pick(0, 3) == 0
                             ? fmt::format("ip-10-0-{}-{}.eu-west-1.compute.internal", i / 250, i)
                             : fmt::format("node-{:05d}", i);
      if (pick(0, 15) != 0) {  // the others stay unknown to the cache
        cache.upsert(randomNode(rng, name, now, huge));
      }
      names.push_back(std::move(name));
    }
    Extender ext{config, "/colo", &cache, [&now] { return now; }};
    for (int round = 0; round < 25; ++round) {
      now += pick(0, 3000);
      // Placements inside and outside the cool-down window, some in the future.
      for (int k = pick(0, 40); k > 0; --k) {
        ext.placements().record(names[static_cast<size_t>(pick(0, n - 1))],
                                {now - pick(-1000, 90000), pick(0, 4000), pick(0, 8) << 28,
                                 pick(0, 4000), pick(0, 8) << 28});
      }
      std::vector<std::string> asked = names;
      std::shuffle(asked.begin(), asked.end(), rng);
      asked.resize(static_cast<size_t>(pick(0, n)));
      std::string body =
          R"({"Pod":)" + podJson(rng, pick(0, 1) == 1) + R"(,"Nodes":null,"NodeNames":[)";
      for (size_t i = 0; i < asked.size(); ++i) {
        body += (i > 0 ? ",\"" : "\"") + testing::goEscape(asked[i]) + "\"";
      }
      body += "]}";
      ArgsParser parser;
      ParsedArgs args;
      ASSERT_TRUE(parser.parseCopy(body, &args));
      const Reference ref = reference(config, cache, args.pod, asked, now);
      EXPECT_EQ(testing::post(ext, true, body), ref.filter) << cluster << "/" << round;
      failed_rounds += ref.filter.find(R"("FailedNodes":{})") == std::string::npos ? 1 : 0;
      EXPECT_EQ(testing::post(ext, false, body), ref.prioritize) << cluster << "/" << round;
      if (!ref.winner.empty()) {
        // The winner is recorded at `now`: the only placement at that instant.
        EXPECT_EQ(ext.placements().summarize(ref.winner, now, 1, now - 1).cpu_m > 0, true)
            << ref.winner;
        ++winners;
      }
    }
  }
  EXPECT_GT(winners, 100);
  EXPECT_GT(failed_rounds, 100);
}

// 1: the sequential path. min_nodes 1 forces the chunks on every non-empty list (more chunks
// than names for the small ones), 0 on empty lists too.
INSTANTIATE_TEST_SUITE_P(Parallelism, FusedAnswers,
                         ::testing::Values(Parallel{1, 1}, Parallel{2, 1}, Parallel{3, 1},
                                           Parallel{8, 1}, Parallel{3, 0}, Parallel{4, 1000}),
                         [](const ::testing::TestParamInfo<Parallel>& p) {
                           return fmt::format("p{}_min{}", p.param.parallelism, p.param.min_nodes);
                         });

// Full Node objects (nodeCacheCapable: false) take the chunks too: the answers of a sequential
// and a parallel extender are the same bytes, and so are their recorded winners.
TEST(ParallelAnswers, NodesModeSameBytesAsSequential) {
  std::mt19937_64 rng(11);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  int64_t now = kNow;
  Config seq_config;
  seq_config.request_parallelism = 1;
  Config par_config = seq_config;
  par_config.request_parallelism = 3;
  par_config.parallel_min_nodes = 1;
  Extender seq{seq_config, "/colo", nullptr, [&now] { return now; }};
  Extender par{par_config, "/colo", nullptr, [&now] { return now; }};
  for (int round = 0; round < 40; ++round) {
    now += pick(0, 3000);
    const int n = static_cast<int>(pick(0, 60));
    std::string body =
        R"({"Pod":)" + podJson(rng, pick(0, 1) == 1) + R"(,"Nodes":{"metadata":{},"items":[)";
    for (int i = 0; i < n; ++i) {
      NodeEntry e = randomNode(rng, fmt::format("n{}", pick(0, 80)), now);
      body +=
          (i > 0 ? "," : "") + testing::nodeJson(e.name, e.colocation_open,
                                                 e.has_metrics ? encodeNodeMetrics(e.metrics) : "");
    }
    body += R"(]},"NodeNames":null})";
    for (bool filter : {true, false}) {
      EXPECT_EQ(testing::post(par, filter, body), testing::post(seq, filter, body)) << round;
    }
  }
}

// NodeBalance's cluster sums on the parallel path: integer sums per chunk, added in any order,
// are bit for bit the sequential double sums whenever they claim to be; when they refuse, the
// sequential sums are in fact often not the exact totals (why the fallback adds in order).
TEST(ParallelAnswers, ExactBalanceSumsAreTheSequentialSumsOrRefuse) {
  std::mt19937_64 rng(5);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  int exact = 0, refused = 0, sequential_inexact = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int scale = static_cast<int>(pick(10, 56));  // values up to 2^scale
    std::vector<NodeEntry> entries(static_cast<size_t>(pick(0, 300)));
    std::vector<NodeView> views;
    for (NodeEntry& e : entries) {
      e.metrics.cpu.requests_m = pick(0, 4) == 0 ? 0 : pick(1, int64_t{1} << scale);
      e.metrics.cpu.used_m = pick(0, 9) == 0 ? 0 : pick(1, int64_t{1} << (scale - pick(0, 8)));
      views.push_back(
          NodeView{"n", &e, pick(0, 5) == 0 ? MetricsState::kStale : MetricsState::kOk, {}});
    }
    Plugins::BalanceSums sequential;
    for (const NodeView& v : views) {
      sequential.add(v);
    }
    const size_t k = static_cast<size_t>(pick(1, 9));
    std::vector<Plugins::ExactBalanceSums> chunks(k);
    for (size_t c = 0; c < k; ++c) {
      for (size_t i = views.size() * c / k; i < views.size() * (c + 1) / k; ++i) {
        chunks[c].add(views[i]);
      }
    }
    Plugins::ExactBalanceSums total;
    for (const auto& c : chunks) {
      total.add(c);
    }
    Plugins::BalanceSums got;
    if (total.get(&got)) {
      ++exact;
      ASSERT_EQ(std::memcmp(&got.requests, &sequential.requests, sizeof(double)), 0) << trial;
      ASSERT_EQ(std::memcmp(&got.used, &sequential.used, sizeof(double)), 0) << trial;
    } else {
      ++refused;
      unsigned __int128 req = 0;
      for (const NodeView& v : views) {
        if (v.state == MetricsState::kOk && v.entry->metrics.cpu.requests_m > 0 &&
            v.entry->metrics.cpu.used_m > 0) {
          req += static_cast<uint64_t>(v.entry->metrics.cpu.requests_m);
        }
      }
      sequential_inexact += static_cast<double>(req) != sequential.requests ? 1 : 0;
    }
  }
  EXPECT_GT(exact, 500);
  EXPECT_GT(refused, 500);
  EXPECT_GT(sequential_inexact, 100);
}

TEST(ChunkPool, RunsEveryChunkOnceWhateverTheCount) {
  ChunkPool pool(3);
  ChunkPool::Lease lease = pool.tryAcquire();
  ASSERT_TRUE(lease);
  EXPECT_FALSE(pool.tryAcquire());  // one request at a time
  for (size_t chunks : {0, 1, 2, 3, 7, 100}) {
    std::vector<int> runs(chunks, 0);
    auto fn = [&](size_t c) { ++runs[c]; };
    lease.run(chunks, fn);
    EXPECT_EQ(std::count(runs.begin(), runs.end(), 1), static_cast<ptrdiff_t>(chunks));
  }
  EXPECT_FALSE(ChunkPool(1).tryAcquire());  // no helpers: the caller works alone
}

// Several scheduler connections at once against one extender whose pool splits every request:
// the requests that get the helpers and those that run alone (the helpers busy) all answer as
// the reference does. No winner is recorded (coolDown weight 0), so the answers do not depend on
// the order the requests are served in; the placements seeded before are summarised by every
// request.
TEST(ParallelAnswers, ConcurrentConnectionsWithThePoolInUseGetTheReferenceAnswers) {
  std::mt19937_64 rng(23);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const int64_t now = kNow;
  Config config;
  config.cool_down.weight = 0;
  config.request_parallelism = 3;
  config.parallel_min_nodes = 1;
  NodeCache cache;
  std::vector<std::string> names;
  for (int i = 0; i < 1500; ++i) {
    names.push_back(fmt::format("node-{:05d}", i));
    if (pick(0, 15) != 0) {
      cache.upsert(randomNode(rng, names.back(), now));
    }
  }
  Extender ext{config, "/colo", &cache, [now] { return now; }};
  for (int k = 0; k < 3000; ++k) {
    ext.placements().record(names[static_cast<size_t>(pick(0, 1499))],
                            {now - pick(-1000, 90000), pick(0, 4000), pick(0, 8) << 28,
                             pick(0, 4000), pick(0, 8) << 28});
  }
  struct Case {
    std::string body, filter, prioritize;
  };
  std::vector<Case> cases;
  for (int c = 0; c < 6; ++c) {
    std::vector<std::string> asked = names;
    std::shuffle(asked.begin(), asked.end(), rng);
    asked.resize(static_cast<size_t>(pick(c == 0 ? 0 : 800, 1500)));
    std::string body = R"({"Pod":)" + podJson(rng, c % 2 == 0) + R"(,"Nodes":null,"NodeNames":[)";
    for (size_t i = 0; i < asked.size(); ++i) {
      body += (i > 0 ? ",\"" : "\"") + asked[i] + "\"";
    }
    body += "]}";
    ArgsParser parser;
    ParsedArgs args;
    ASSERT_TRUE(parser.parseCopy(body, &args));
    Reference ref = reference(config, cache, args.pod, asked, now);
    cases.push_back({body, ref.filter, ref.prioritize});
  }
  http::ServerOptions o;
  o.threads = 4;
  http::Server server(o, [&ext](const http::Request& r) { return ext.handle(r); });
  auto port = server.listenTcp("127.0.0.1", 0);
  ASSERT_TRUE(port.has_value());
  ASSERT_TRUE(server.start().has_value());
  std::atomic<int> good{0}, bad{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      auto c = http::Client::connect("127.0.0.1:" + std::to_string(*port));
      if (!c) {
        bad.fetch_add(1);
        return;
      }
      for (int i = 0; i < 24; ++i) {
        const Case& k = cases[static_cast<size_t>(t + i) % cases.size()];
        const bool filter = i % 2 == 0;
        auto r = c->request("POST", filter ? "/colo/filter" : "/colo/prioritize", k.body);
        const bool ok = r && r->status == 200 && r->body == (filter ? k.filter : k.prioritize);
        (ok ? good : bad).fetch_add(1);
      }
    });
  }
  for (auto& t : clients) {
    t.join();
  }
  server.stop();
  EXPECT_EQ(good.load(), 6 * 24);
  EXPECT_EQ(bad.load(), 0);
}

TEST(JsonWriterPlain, AgreesWithTheEscapingByteByByte) {
  // Every byte value at every position of strings of 0..40 bytes.
  for (size_t len = 0; len <= 40; ++len) {
    for (size_t pos = 0; pos < std::max<size_t>(len, 1); ++pos) {
      for (int b = 0; b < 256; ++b) {
        std::string s(len, 'a');
        if (len > 0) {
          s[pos] = static_cast<char>(b);
        }
        // Control characters, and what Go's encoder escapes.
        const bool want =
            len == 0 || (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&');
        ASSERT_EQ(JsonWriter::plain(s), want) << len << " " << pos << " " << b;
        std::string escaped;
        JsonWriter(&escaped).str(s);
        EXPECT_EQ(escaped.size() == s.size() + 2, want);
        EXPECT_EQ(JsonWriter::strSize(s), escaped.size());
        char buf[512];
        ASSERT_EQ(std::string_view(buf, JsonWriter::writeStr(buf, s)), escaped);
      }
    }
  }
}

}  // namespace
}  // namespace colo::extender
