#include "extender/extender.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/log.h"
#include "extender/json_writer.h"
#include "extender/request.h"

namespace colo::extender {
namespace {

int64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

http::Response textResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  r.body += '\n';
  return r;
}

log::RateLimit g_bad_request_log{std::chrono::seconds(10)};
log::RateLimit g_no_cache_log{std::chrono::seconds(60)};

void warnNoCache() {
  if (g_no_cache_log.allow()) {
    log::warn("extender",
              "NodeNames request (nodeCacheCapable: true) but colo-extender runs without a node "
              "cache: every node is unknown and scored neutrally; start it with --node_cache or "
              "set nodeCacheCapable: false");
  }
}

// Per-thread parse state: the parser's buffers are reused across requests.
struct ThreadState {
  ArgsParser parser;
  ParsedArgs args;
  std::vector<NodeView> views;
  std::vector<Placements::Summary> placed;
  std::vector<int64_t> scores;
  std::string label, label_value;
  std::string escaped_reason;
  std::vector<uint8_t> pass;
  std::string failed, unresolvable;
  // The escaped reasons that carry no number (missing label, unknown node), formatted at most
  // once per request: thousands of nodes can share them.
  std::string fixed_reason[2];
};

ThreadState& threadState(const Config& c) {
  thread_local ThreadState ts;
  if (ts.label != c.colocation_label || ts.label_value != c.colocation_label_value) {
    ts.parser = ArgsParser(c.colocation_label, c.colocation_label_value);
    ts.label = c.colocation_label;
    ts.label_value = c.colocation_label_value;
  }
  return ts;
}

// Parses `body` into the thread's state; on failure, the 400 the scheduler gets (logged,
// rate-limited).
std::optional<http::Response> parseInto(std::string_view verb, std::string_view body,
                                        size_t capacity, ThreadState& ts) {
  if (auto st = ts.parser.parse(body, capacity, &ts.args); !st) {
    if (g_bad_request_log.allow()) {
      log::warn("extender", "{}: bad request: {}", verb, st.error().message());
    }
    return textResponse(400, fmt::format("bad ExtenderArgs: {}", st.error().message()));
  }
  return std::nullopt;
}

// The HostPriorityList: [{"Host":"n1","Score":7},...]. Node names need no JSON escaping (DNS
// names) and scores are 0..10, so each element is three copies into a buffer sized once (each
// name checked as it is copied); a list with any other name or score goes through JsonWriter.
void writeHostPriorityList(std::span<const NodeView> views, std::span<const int64_t> scores,
                           std::string* out) {
  static constexpr std::string_view kHost = R"({"Host":")";
  static constexpr std::string_view kScore = R"(","Score":)";
  size_t bytes = 2;
  bool simple = true;
  for (size_t i = 0; i < views.size(); ++i) {
    bytes += views[i].name.size();
    simple = simple && scores[i] >= 0 && scores[i] <= kMaxExtenderPriority;
  }
  bytes += views.size() * (kHost.size() + kScore.size() + 4);  // 2 digits, '}', ','
  const size_t old = out->size();
  if (simple) {
    out->resize_and_overwrite(old + bytes, [&](char* base, size_t) {
      char* p = base + old;
      *p++ = '[';
      for (size_t i = 0; i < views.size(); ++i) {
        if (i > 0) {
          *p++ = ',';
        }
        std::memcpy(p, kHost.data(), kHost.size());
        p += kHost.size();
        const std::string_view name = views[i].name;
        std::memcpy(p, name.data(), name.size());
        if (!JsonWriter::plain(name)) {
          simple = false;
          return old;
        }
        p += name.size();
        std::memcpy(p, kScore.data(), kScore.size());
        p += kScore.size();
        const int64_t score = scores[i];
        if (score >= 10) {
          *p++ = static_cast<char>('0' + score / 10);
        }
        *p++ = static_cast<char>('0' + score % 10);
        *p++ = '}';
      }
      *p++ = ']';
      return static_cast<size_t>(p - base);
    });
    if (simple) {
      return;
    }
  }
  out->reserve(old + bytes + views.size() * 16);
  JsonWriter w(out);
  w.ch('[');
  for (size_t i = 0; i < views.size(); ++i) {
    if (i > 0) {
      w.ch(',');
    }
    w.raw(R"({"Host":)");
    w.str(views[i].name);
    w.raw(R"(,"Score":)");
    w.num(scores[i]);
    w.ch('}');
  }
  w.ch(']');
}

}  // namespace

void Extender::lookUp(std::span<const std::string_view> names, const NodeCache::Index* index,
                      std::vector<NodeView>* views) {
  views->resize(names.size());
  uint64_t unknown = 0;
  if (index == nullptr) {
    for (size_t i = 0; i < names.size(); ++i) {
      (*views)[i] = NodeView{names[i], nullptr, MetricsState::kMissing, {}};
    }
    unknown = names.size();
  } else {
    // Two passes: hash every name and prefetch its slot, then probe; the entries' other cache
    // lines are prefetched for the plugins that read them next.
    thread_local std::vector<uint64_t> hashes;
    hashes.resize(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      hashes[i] = nameHash(names[i]);
      index->prefetch(hashes[i]);
    }
    for (size_t i = 0; i < names.size(); ++i) {
      const NodeEntry* e = index->find(names[i], hashes[i]);
      if (e != nullptr) {
        const char* p = reinterpret_cast<const char*>(e);
        for (size_t off = 64; off < sizeof(NodeEntry); off += 64) {
          __builtin_prefetch(p + off);
        }
      }
      unknown += e == nullptr ? 1 : 0;
      (*views)[i] = NodeView{names[i], e, MetricsState::kMissing, {}};
    }
  }
  if (unknown > 0) {
    metrics_.unknown_nodes.fetch_add(unknown, std::memory_order_relaxed);
  }
}

int64_t Extender::wallClockMs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Extender::Extender(Config config, std::string url_prefix, NodeCache* cache, Clock clock)
    : config_(std::move(config)),
      prefix_(std::move(url_prefix)),
      cache_(cache),
      clock_(std::move(clock)),
      placements_(cache_ != nullptr ? &cache_->placements() : &own_placements_),
      plugins_(config_, &metrics_, placements_) {
  while (!prefix_.empty() && prefix_.back() == '/') {
    prefix_.pop_back();
  }
  if (!prefix_.empty() && prefix_.front() != '/') {
    prefix_.insert(prefix_.begin(), '/');
  }
  if (cache_ == nullptr) {
    metrics_.cache_nodes.store(-1);
  }
}

http::Response Extender::handle(const http::Request& request) {
  std::string_view path = request.path;
  Verb verb = Verb::kOther;
  http::Response resp;
  if (path.starts_with(prefix_) && path.size() > prefix_.size() && path[prefix_.size()] == '/') {
    std::string_view verb_name = path.substr(prefix_.size() + 1);
    if (verb_name == "filter") {
      verb = Verb::kFilter;
    } else if (verb_name == "prioritize") {
      verb = Verb::kPrioritize;
    }
  }
  if (verb == Verb::kOther) {
    if (path == "/healthz") {
      verb = Verb::kHealthz;
    } else if (path == "/metrics") {
      verb = Verb::kMetrics;
    }
  }
  switch (verb) {
    case Verb::kFilter:
    case Verb::kPrioritize:
      if (request.method != "POST") {
        resp = textResponse(405, fmt::format("{} needs POST", path));
        resp.headers.emplace_back("Allow", "POST");
        break;
      }
      resp = verb == Verb::kFilter ? filter(request.body, request.body.capacity())
                                   : prioritize(request.body, request.body.capacity());
      break;
    case Verb::kHealthz:
      if (cache_ != nullptr && !cache_->synced()) {
        resp = textResponse(503, "node cache not synced with the Kubernetes API yet");
      } else {
        resp = textResponse(200, "ok");
      }
      break;
    case Verb::kMetrics:
      if (cache_ != nullptr) {
        metrics_.cache_nodes.store(static_cast<int64_t>(cache_->size()));
        metrics_.cache_synced.store(cache_->synced() ? 1 : 0);
      }
      resp.content_type = "text/plain; version=0.0.4";
      resp.body = metrics_.render();
      break;
    default:
      resp = textResponse(404, fmt::format("no route for {} {}; the extender serves POST "
                                           "{}/filter, POST {}/prioritize, /healthz, /metrics",
                                           request.method, path, prefix_, prefix_));
  }
  metrics_.countRequest(verb, resp.status);
  return resp;
}

http::Response Extender::filter(std::string_view body, size_t capacity) {
  int64_t start = monotonicNs();
  ThreadState& ts = threadState(config_);
  if (auto bad = parseInto("filter", body, capacity, ts)) {
    return std::move(*bad);
  }
  const int64_t now = clock_();
  ParsedArgs& args = ts.args;
  std::string out;
  auto run = [&](std::span<NodeView> views) {
    for (NodeView& v : views) {
      v.state = plugins_.classify(v.entry, now, v.name);
    }
    // Without any placement every summary is zero: skip filling 40 bytes per node.
    static const Placements::Summary kNothingPlaced{};
    const bool any_placed = placements_->summarizeAny(
        views, now, int64_t{config_.cool_down.window_s} * 1000, &ts.placed);
    // Verdicts: collect the failing ones straight into their JSON objects; everything else
    // passes.
    std::string& failed = ts.failed;
    std::string& unresolvable = ts.unresolvable;
    failed.clear();
    unresolvable.clear();
    ts.fixed_reason[0].clear();
    ts.fixed_reason[1].clear();
    JsonWriter fw(&failed), uw(&unresolvable);
    ts.pass.assign(views.size(), 1);
    std::vector<uint8_t>& pass = ts.pass;
    size_t pass_bytes = 0;
    // Nodes failing with the same numbers share a reason: format and escape it once.
    FilterVerdict last;
    for (size_t i = 0; i < views.size(); ++i) {
      FilterVerdict verdict =
          plugins_.filter(args.pod, views[i], any_placed ? ts.placed[i] : kNothingPlaced);
      if (verdict.kind == FilterVerdict::kPass) {
        pass_bytes += views[i].name.size() + 3;
        continue;
      }
      pass[i] = 0;
      std::string& into = verdict.kind == FilterVerdict::kFail ? failed : unresolvable;
      JsonWriter& w = verdict.kind == FilterVerdict::kFail ? fw : uw;
      if (!into.empty()) {
        w.ch(',');
      }
      w.key(views[i].name);
      if (verdict.why == FilterVerdict::Why::kNotOpen ||
          verdict.why == FilterVerdict::Why::kUnknownNode) {
        std::string& fixed = ts.fixed_reason[verdict.why == FilterVerdict::Why::kNotOpen ? 0 : 1];
        if (fixed.empty()) {
          verdict.appendJsonReason(config_, &fixed);
        }
        w.raw(fixed);
        continue;
      }
      if (verdict.why != last.why || verdict.value != last.value || verdict.limit != last.limit) {
        last = verdict;
        ts.escaped_reason.clear();
        verdict.appendJsonReason(config_, &ts.escaped_reason);
      }
      w.raw(ts.escaped_reason);
    }
    // Names are escaped in place; the slack covers one name escaped at its worst.
    out.reserve((args.nodes_mode ? body.size() : pass_bytes) + failed.size() + unresolvable.size() +
                512);
    JsonWriter w(&out);
    if (args.nodes_mode) {
      w.raw(R"({"Nodes":{"metadata":{},"items":[)");
      bool first = true;
      for (size_t i = 0; i < views.size(); ++i) {
        if (pass[i]) {
          if (!first) {
            w.ch(',');
          }
          first = false;
          w.raw(views[i].raw_json);
        }
      }
      w.raw(R"(]},"NodeNames":null,"FailedNodes":{)");
    } else {
      w.raw(R"({"Nodes":null,"NodeNames":[)");
      bool first = true;
      for (size_t i = 0; i < views.size(); ++i) {
        if (pass[i]) {
          if (!first) {
            w.ch(',');
          }
          first = false;
          w.str(views[i].name);
        }
      }
      w.raw(R"(],"FailedNodes":{)");
    }
    w.raw(failed);
    w.raw(R"(},"FailedAndUnresolvableNodes":{)");
    w.raw(unresolvable);
    w.raw(R"(},"Error":""})");
  };
  ts.views.clear();
  if (args.nodes_mode) {
    ts.views.reserve(args.nodes.size());
    for (const auto& item : args.nodes) {
      ts.views.push_back(NodeView{item.entry.name, &item.entry, MetricsState::kMissing, item.raw});
    }
    run(ts.views);
  } else {
    auto fill_and_run = [&](const NodeCache::Index* index) {
      lookUp(args.names, index, &ts.views);
      run(ts.views);
    };
    if (cache_ != nullptr) {
      cache_->readIndex([&](const NodeCache::Index& index) { fill_and_run(&index); });
    } else {
      warnNoCache();
      fill_and_run(nullptr);
    }
  }
  metrics_.flushDecisions();
  metrics_.latency[0].observe(monotonicNs() - start);
  http::Response r;
  r.body = std::move(out);
  return r;
}

http::Response Extender::prioritize(std::string_view body, size_t capacity) {
  int64_t start = monotonicNs();
  ThreadState& ts = threadState(config_);
  if (auto bad = parseInto("prioritize", body, capacity, ts)) {
    return std::move(*bad);
  }
  const int64_t now = clock_();
  ParsedArgs& args = ts.args;
  std::string out;
  auto run = [&](std::span<NodeView> views) {
    for (NodeView& v : views) {
      v.state = plugins_.classify(v.entry, now, v.name);
    }
    plugins_.score(args.pod, views, now, &ts.scores);
    writeHostPriorityList(views, ts.scores, &out);
  };
  ts.views.clear();
  if (args.nodes_mode) {
    ts.views.reserve(args.nodes.size());
    for (const auto& item : args.nodes) {
      ts.views.push_back(NodeView{item.entry.name, &item.entry, MetricsState::kMissing, {}});
    }
    run(ts.views);
  } else {
    auto fill_and_run = [&](const NodeCache::Index* index) {
      lookUp(args.names, index, &ts.views);
      run(ts.views);
    };
    if (cache_ != nullptr) {
      cache_->readIndex([&](const NodeCache::Index& index) { fill_and_run(&index); });
    } else {
      warnNoCache();
      fill_and_run(nullptr);
    }
  }
  // Forget placements that can no longer matter, about once a second.
  int64_t next = next_prune_ms_.load(std::memory_order_relaxed);
  if (now >= next && next_prune_ms_.compare_exchange_strong(next, now + 1000)) {
    int64_t keep =
        std::max<int64_t>(int64_t{config_.cool_down.window_s}, int64_t{config_.max_metrics_age_s}) *
        1000;
    placements_->prune(now, keep);
  }
  metrics_.flushDecisions();
  metrics_.latency[1].observe(monotonicNs() - start);
  http::Response r;
  r.body = std::move(out);
  return r;
}

}  // namespace colo::extender
