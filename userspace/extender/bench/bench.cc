// colo-extender-bench: in-process cost of one filter and one prioritize (parse + plugins +
// response), for a 5,000-name request against a node cache and for a request carrying 500 full
// Node objects; and the JSON parsing throughput alone. Prints figures; asserts nothing.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "extender/bench/bodies.h"
#include "extender/extender.h"
#include "extender/request.h"

namespace {

int64_t nowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t cpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Wall-clock percentiles, and the mean on-CPU time (which other load on the machine does not
// inflate).
struct Stats {
  double p50_us, p99_us, mean_us, cpu_mean_us;
};

template <typename F>
Stats measure(int iterations, F fn) {
  std::vector<int64_t> t;
  t.reserve(iterations);
  for (int i = 0; i < iterations / 10 + 1; ++i) {
    fn();  // warm-up
  }
  int64_t cpu0 = cpuNs();
  for (int i = 0; i < iterations; ++i) {
    int64_t a = nowNs();
    fn();
    t.push_back(nowNs() - a);
  }
  double cpu_mean = static_cast<double>(cpuNs() - cpu0) / iterations / 1000;
  std::sort(t.begin(), t.end());
  double sum = 0;
  for (int64_t x : t) {
    sum += static_cast<double>(x);
  }
  return {static_cast<double>(t[t.size() / 2]) / 1000,
          static_cast<double>(t[t.size() * 99 / 100]) / 1000,
          sum / static_cast<double>(t.size()) / 1000, cpu_mean};
}

std::string padded(const std::string& s) {
  std::string p = s;
  p.reserve(s.size() + simdjson::SIMDJSON_PADDING);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  // `colo-extender-bench names [N [K [be]]]`: only the 5,000-name cases, N runs each (default
  // 2,000; a small N keeps callgrind runs short). COLO_BENCH_PARALLELISM=P sets the
  // requestParallelism (default 1, the sequential path: figures comparable with earlier ones;
  // parallelMinNodes stays 1,000). K > 0 first records K placements on every node,
  // spread over the last 60 s (after the nodes' metrics timestamps, 120 s ago), as a long HTTP run
  // with frozen metrics leaves them, and freezes the extender's clock so that runs are comparable.
  // With `be` the placements carry the benchmark pod's BE requests, as the HTTP prioritize rounds
  // record them: filter then fails every labelled node on BE fit, each with its own numbers.
  const bool names_only = argc > 1 && std::string_view(argv[1]) == "names";
  const int names_iters = argc > 2 ? std::max(1, std::atoi(argv[2])) : 2000;
  const int placements_per_node = argc > 3 ? std::max(0, std::atoi(argv[3])) : 0;
  const bool be_placements = argc > 4 && std::string_view(argv[4]) == "be";
  using namespace colo;
  const int64_t now_ms = extender::Extender::wallClockMs();
  const int64_t metrics_ms = placements_per_node > 0 ? now_ms - 120000 : now_ms;
  extender::Config config;
  config.max_metrics_age_s = 3600;
  config.request_parallelism = 1;
  if (const char* p = std::getenv("COLO_BENCH_PARALLELISM")) {
    config.request_parallelism = std::atoi(p);
    if (auto st = extender::validateConfig(config); !st) {
      std::fprintf(stderr, "COLO_BENCH_PARALLELISM: %s\n", st.error().message().c_str());
      return 2;
    }
  }
  std::printf("request_parallelism=%d parallel_min_nodes=%d\n", config.request_parallelism,
              config.parallel_min_nodes);

  // 5,000 names against a cache of 5,000 nodes.
  extender::NodeCache cache;
  {
    extender::ArgsParser p;
    auto list = p.parseNodeList(bench::nodeListBody(5000, metrics_ms));
    if (!list) {
      std::fprintf(stderr, "%s\n", list.error().message().c_str());
      return 1;
    }
    cache.replaceAll(std::move(list->items));
  }
  extender::Extender::Clock clock = extender::Extender::wallClockMs;
  if (placements_per_node > 0) {
    clock = [now_ms] { return now_ms; };
  }
  extender::Extender names_ext(config, "/colo", &cache, clock);
  for (int k = 0; k < placements_per_node; ++k) {
    const int64_t at = now_ms - 60000 + 60000 * (k + 1) / placements_per_node;
    for (int i = 0; i < 5000; ++i) {
      names_ext.placements().record(bench::nodeName(i),
                                    {at, 500, int64_t{1} << 30, be_placements ? 2000 : 0,
                                     be_placements ? int64_t{4} << 30 : 0});
    }
  }
  std::string names = padded(bench::namesBody(5000));
  auto f = names_ext.filter(names, names.capacity());
  if (f.status != 200) {
    std::fprintf(stderr, "filter: %d %s\n", f.status, f.body.c_str());
    return 1;
  }
  Stats nf = measure(names_iters, [&] { (void)names_ext.filter(names, names.capacity()); });
  Stats np = measure(names_iters, [&] { (void)names_ext.prioritize(names, names.capacity()); });
  std::printf(
      "names=5000 body_bytes=%zu filter_answer_bytes=%zu filter p50_us=%.1f p99_us=%.1f "
      "cpu_mean_us=%.1f | "
      "prioritize p50_us=%.1f p99_us=%.1f cpu_mean_us=%.1f\n",
      names.size(), f.body.size(), nf.p50_us, nf.p99_us, nf.cpu_mean_us, np.p50_us, np.p99_us,
      np.cpu_mean_us);

  if (names_only) {
    return 0;
  }
  // 500 full Node objects in the request.
  extender::Extender nodes_ext(config, "/colo", nullptr);
  std::string nodes = padded(bench::nodesBody(500, now_ms));
  Stats ff = measure(300, [&] { (void)nodes_ext.filter(nodes, nodes.capacity()); });
  Stats fp = measure(300, [&] { (void)nodes_ext.prioritize(nodes, nodes.capacity()); });
  std::printf(
      "nodes=500 body_bytes=%zu filter p50_us=%.1f p99_us=%.1f cpu_mean_us=%.1f | "
      "prioritize p50_us=%.1f p99_us=%.1f cpu_mean_us=%.1f\n",
      nodes.size(), ff.p50_us, ff.p99_us, ff.cpu_mean_us, fp.p50_us, fp.p99_us, fp.cpu_mean_us);

  // Parsing alone (ExtenderArgs -> pod + 500 decoded nodes), and simdjson's own full
  // validation of the same bytes (DOM) for comparison.
  extender::ArgsParser parser;
  extender::ParsedArgs args;
  Stats parse = measure(300, [&] { (void)parser.parse(nodes, nodes.capacity(), &args); });
  simdjson::dom::parser dom;
  Stats dom_parse = measure(300, [&] { (void)dom.parse(nodes.data(), nodes.size(), false); });
  double mb = static_cast<double>(nodes.size()) / 1e6;
  std::printf(
      "parse nodes=500: ArgsParser p50_us=%.1f (%.0f MB/s) | simdjson DOM p50_us=%.1f "
      "(%.0f MB/s)\n",
      parse.p50_us, mb / (parse.p50_us / 1e6), dom_parse.p50_us, mb / (dom_parse.p50_us / 1e6));
  Stats nparse = measure(2000, [&] { (void)parser.parse(names, names.capacity(), &args); });
  std::printf("parse names=5000: ArgsParser p50_us=%.1f (%.0f MB/s)\n", nparse.p50_us,
              static_cast<double>(names.size()) / 1e6 / (nparse.p50_us / 1e6));
  return 0;
}
