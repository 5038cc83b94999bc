// colo-loadgen: HTTP/1.1 keep-alive load generator for the extender benchmark. N connections,
// each a thread sending the same POST back to back for a duration; reports requests/s and
// latency percentiles, and optionally the RSS of a server process at start and end.
// Also writes the synthetic request bodies (--make).
#include <gflags/gflags.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/http.h"
#include "extender/bench/bodies.h"

DEFINE_string(target, "127.0.0.1:8888", "host:port or unix:/path");
DEFINE_string(path, "/colo/filter", "request path");
DEFINE_string(body, "", "file whose content is POSTed");
DEFINE_int32(connections, 1, "concurrent keep-alive connections (one thread each)");
DEFINE_double(duration_s, 10, "measured run length");
DEFINE_double(warmup_s, 1, "unmeasured warm-up");
DEFINE_int32(server_pid, 0, "report VmRSS of this pid at start and end");
DEFINE_string(make, "", "write a body instead of loading: names:N, nodes:N or nodelist:N");
DEFINE_string(out, "", "file for --make");

namespace {

int64_t nowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

long rssKb(int pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (!FLAGS_make.empty()) {
    size_t colon = FLAGS_make.find(':');
    int n = colon == std::string::npos ? 0 : std::atoi(FLAGS_make.c_str() + colon + 1);
    std::string kind = FLAGS_make.substr(0, colon);
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
    std::string body = kind == "names"      ? colo::bench::namesBody(n)
                       : kind == "nodes"    ? colo::bench::nodesBody(n, now_ms)
                       : kind == "nodelist" ? colo::bench::nodeListBody(n, now_ms)
                                            : "";
    if (body.empty() || FLAGS_out.empty()) {
      std::fprintf(stderr, "--make=names:N|nodes:N|nodelist:N needs --out=FILE\n");
      return 2;
    }
    std::ofstream(FLAGS_out) << body;
    std::printf("wrote %zu bytes to %s\n", body.size(), FLAGS_out.c_str());
    return 0;
  }
  std::ifstream in(FLAGS_body);
  if (!in) {
    std::fprintf(stderr, "--body=%s: cannot read\n", FLAGS_body.c_str());
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();

  long rss_start = FLAGS_server_pid > 0 ? rssKb(FLAGS_server_pid) : -1;
  std::atomic<bool> measuring{false}, done{false};
  std::atomic<uint64_t> errors{0};
  std::vector<std::vector<int64_t>> lat(FLAGS_connections);
  std::vector<std::thread> threads;
  for (int c = 0; c < FLAGS_connections; ++c) {
    threads.emplace_back([&, c] {
      auto client = colo::http::Client::connect(FLAGS_target, 10000);
      if (!client) {
        std::fprintf(stderr, "connect: %s\n", client.error().message().c_str());
        errors.fetch_add(1);
        return;
      }
      lat[c].reserve(1 << 20);
      while (!done.load(std::memory_order_relaxed)) {
        int64_t t0 = nowNs();
        auto r = client->request("POST", FLAGS_path, body);
        int64_t t1 = nowNs();
        if (!r || r->status != 200) {
          if (errors.fetch_add(1) < 3) {
            std::fprintf(stderr, "error: %s\n",
                         r ? fmt::format("HTTP {}: {}", r->status, r->body.substr(0, 200)).c_str()
                           : r.error().message().c_str());
          }
          continue;
        }
        if (measuring.load(std::memory_order_relaxed)) {
          lat[c].push_back(t1 - t0);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(FLAGS_warmup_s));
  errors.store(0);
  measuring = true;
  int64_t start = nowNs();
  std::this_thread::sleep_for(std::chrono::duration<double>(FLAGS_duration_s));
  measuring = false;
  int64_t elapsed = nowNs() - start;
  done = true;
  for (auto& t : threads) {
    t.join();
  }
  std::vector<int64_t> all;
  for (auto& v : lat) {
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) -> double {
    if (all.empty()) {
      return 0;
    }
    size_t i = std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())));
    return static_cast<double>(all[i]) / 1000.0;
  };
  double rps = static_cast<double>(all.size()) / (static_cast<double>(elapsed) / 1e9);
  std::printf(
      "connections=%d body_bytes=%zu requests=%zu errors=%lu rps=%.0f p50_us=%.1f p90_us=%.1f "
      "p99_us=%.1f p999_us=%.1f max_us=%.1f",
      FLAGS_connections, body.size(), all.size(), static_cast<unsigned long>(errors.load()), rps,
      pct(0.50), pct(0.90), pct(0.99), pct(0.999), all.empty() ? 0.0 : all.back() / 1000.0);
  if (FLAGS_server_pid > 0) {
    std::printf(" rss_start_kb=%ld rss_end_kb=%ld", rss_start, rssKb(FLAGS_server_pid));
  }
  std::printf("\n");
  return errors.load() == 0 ? 0 : 1;
}
