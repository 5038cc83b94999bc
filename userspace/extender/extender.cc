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

// How filter answers for one node: its verdict, and its reason as a slice of
// RequestState::reasons (or its chunk's).
struct NodeAnswer {
  uint32_t reason_at;
  uint32_t reason_len;
  uint8_t kind;        // FilterVerdict::Kind
  uint8_t plain_name;  // the name needs no JSON escaping
};

// Failing nodes' reasons, each written once into `out`: the two without numbers once per
// answer, a numbered one once per run of nodes failing with the same numbers.
class ReasonCache {
 public:
  ReasonCache(const Config& config, std::string* out) : config_(config), out_(out) {}
  // Where `v`'s reason is in `out` (kind and plain_name left 0).
  NodeAnswer of(const FilterVerdict& v) {
    if (v.why == FilterVerdict::Why::kNotOpen || v.why == FilterVerdict::Why::kUnknownNode) {
      const size_t k = v.why == FilterVerdict::Why::kNotOpen ? 0 : 1;
      if (!have_fixed_[k]) {
        fixed_[k] = write(v);
        have_fixed_[k] = true;
      }
      return fixed_[k];
    }
    if (v.why != last_.why || v.value != last_.value || v.limit != last_.limit) {
      last_ = v;
      last_reason_ = write(v);
    }
    return last_reason_;
  }

 private:
  NodeAnswer write(const FilterVerdict& v) {
    const size_t at = out_->size();
    v.appendJsonReason(config_, out_);
    return NodeAnswer{static_cast<uint32_t>(at), static_cast<uint32_t>(out_->size() - at), 0, 0};
  }

  const Config& config_;
  std::string* out_;
  NodeAnswer fixed_[2] = {};
  bool have_fixed_[2] = {false, false};
  FilterVerdict last_;
  NodeAnswer last_reason_{};
};

// Parses `body` into the thread's state; on failure, the 400 the scheduler gets (logged,
// rate-limited).
template <typename State>
std::optional<http::Response> parseInto(std::string_view verb, std::string_view body,
                                        size_t capacity, State& ts) {
  if (auto st = ts.parser.parse(body, capacity, &ts.args); !st) {
    if (g_bad_request_log.allow()) {
      log::warn("extender", "{}: bad request: {}", verb, st.error().message());
    }
    return textResponse(400, fmt::format("bad ExtenderArgs: {}", st.error().message()));
  }
  return std::nullopt;
}

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// The HostPriorityList: [{"Host":"n1","Score":7},...], with score_at(i) called for every node in
// order (prioritize computes each score as it is written). Node names need no JSON escaping (DNS
// names) and scores are 0..10, so each element is three copies into a buffer sized once; a list
// with any other name goes through JsonWriter (the same bytes).
// A chunk of a list: `whole` false leaves out the brackets, and `comma_first` puts a comma before
// the first element too (a chunk after the first).
template <typename ScoreAt>
void writeHostPriorityList(std::span<const NodeView> views, ScoreAt&& score_at,
                           std::vector<int64_t>* scores, std::string* out, bool whole = true,
                           bool comma_first = false) {
  static constexpr std::string_view kHost = R"({"Host":")";
  static constexpr std::string_view kScore = R"(","Score":)";
  size_t bytes = 2;
  bool plain = true;
  for (const NodeView& v : views) {
    bytes += v.name.size();
    plain = plain && JsonWriter::plain(v.name);
  }
  bytes += views.size() * (kHost.size() + kScore.size() + 4);  // 2 digits, '}', ','
  const size_t old = out->size();
  if (plain) {
    out->resize_and_overwrite(old + bytes, [&](char* base, size_t) {
      char* p = base + old;
      if (whole) {
        *p++ = '[';
      }
      for (size_t i = 0; i < views.size(); ++i) {
        if (i > 0 || comma_first) {
          *p++ = ',';
        }
        p = put(p, kHost);
        p = put(p, views[i].name);
        p = put(p, kScore);
        // 0..10: scoreNode clamps.
        const int64_t score = score_at(i);
        if (score >= 10) {
          *p++ = static_cast<char>('0' + score / 10);
        }
        *p++ = static_cast<char>('0' + score % 10);
        *p++ = '}';
      }
      if (whole) {
        *p++ = ']';
      }
      return static_cast<size_t>(p - base);
    });
    return;
  }
  scores->resize(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    (*scores)[i] = score_at(i);
  }
  out->reserve(old + bytes + views.size() * 16);
  JsonWriter w(out);
  if (whole) {
    w.ch('[');
  }
  for (size_t i = 0; i < views.size(); ++i) {
    if (i > 0 || comma_first) {
      w.ch(',');
    }
    w.raw(R"({"Host":)");
    w.str(views[i].name);
    w.raw(R"(,"Score":)");
    w.num((*scores)[i]);
    w.ch('}');
  }
  if (whole) {
    w.ch(']');
  }
}

// Resolves names into out (names.size() views) and classifies each entry at now_ms, adding the
// nodes to `sums` (Plugins::BalanceSums or ExactBalanceSums) when not null, in the names' order;
// returns how many names the index does not know. Hash every name and prefetch its slot, then
// probe, prefetching the entry's other cache lines, and classify the entry found a few names
// earlier (its lines loaded by then): the memory misses of thousands of lookups overlap, and each
// entry is read while it is cached.
template <typename Sums>
uint64_t lookUpRange(const Plugins& plugins, std::span<const std::string_view> names,
                     const NodeCache::Index* index, int64_t now_ms, Sums* sums, NodeView* out) {
  if (index == nullptr) {
    for (size_t i = 0; i < names.size(); ++i) {
      out[i] = NodeView{names[i], nullptr, plugins.classify(nullptr, now_ms, names[i]), {}};
    }
    return names.size();
  }
  uint64_t unknown = 0;
  thread_local std::vector<uint64_t> hashes;
  hashes.resize(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    hashes[i] = nameHash(names[i]);
    index->prefetch(hashes[i]);
  }
  constexpr size_t kLag = 8;
  auto classify = [&](NodeView& v) {
    v.state = plugins.classify(v.entry, now_ms, v.name);
    if (sums != nullptr) {
      sums->add(v);
    }
  };
  for (size_t i = 0; i < names.size(); ++i) {
    const NodeEntry* e = index->find(names[i], hashes[i]);
    if (e != nullptr) {
      const char* p = reinterpret_cast<const char*>(e);
      for (size_t off = 64; off < sizeof(NodeEntry); off += 64) {
        __builtin_prefetch(p + off);
      }
    }
    unknown += e == nullptr ? 1 : 0;
    out[i] = NodeView{names[i], e, MetricsState::kMissing, {}};
    if (i >= kLag) {
      classify(out[i - kLag]);
    }
  }
  for (size_t i = names.size() > kLag ? names.size() - kLag : 0; i < names.size(); ++i) {
    classify(out[i]);
  }
  return unknown;
}

// The filter answer's fixed parts; the three lists go between them.
constexpr std::string_view kNamesHead = R"({"Nodes":null,"NodeNames":[)";
constexpr std::string_view kNodesHead = R"({"Nodes":{"metadata":{},"items":[)";
constexpr std::string_view kNamesFailed = R"(],"FailedNodes":{)";
constexpr std::string_view kNodesFailed = R"(]},"NodeNames":null,"FailedNodes":{)";
constexpr std::string_view kUnresolvable = R"(},"FailedAndUnresolvableNodes":{)";
constexpr std::string_view kTail = R"(},"Error":""})";

}  // namespace

// The serving thread's state: the parser's buffers and the per-node arrays are reused across
// requests (no allocation per request once they have grown).
struct Extender::RequestState {
  ArgsParser parser;
  ParsedArgs args;
  std::vector<NodeView> views;
  std::vector<Placements::Summary> placed;
  std::vector<int64_t> scores;
  std::string label, label_value;
  std::vector<NodeAnswer> answers;
  // The JSON reasons of one filter answer, each written once: a reason with numbers is shared by
  // consecutive nodes failing with the same numbers, and the two without numbers (missing
  // label, unknown node) by every node failing with them (thousands can).
  std::string reasons;

  // One contiguous part of the candidates on the parallel path: views[begin, end). Each chunk's
  // state is written by the thread running it and read by this thread between runs; each on its
  // own cache lines (128 bytes: Intel fetches lines in pairs).
  struct alignas(128) Chunk {
    size_t begin = 0, end = 0;
    uint64_t unknown = 0;
    Plugins::ExactBalanceSums sums;
    std::vector<Placements::Batch::Refresh> refresh;
    // filter: the chunk's reasons; per list (passing, failed, unresolvable) the bytes of its
    // elements each with one comma, their count, where the chunk writes in the answer and
    // whether an element of an earlier chunk comes before.
    std::string reasons;
    size_t bytes[3] = {}, count[3] = {}, at[3] = {};
    bool after[3] = {};
    // prioritize: the chunk's part of the list, its decisions and best node.
    std::string out;
    std::vector<int64_t> scores;
    Plugins::ScoreRound round;
    size_t best = 0;
    int64_t best_score = -1;
  };
  std::vector<Chunk> chunks;
  // Splits n candidates into k chunks.
  void split(size_t n, size_t k) {
    chunks.resize(k);
    for (size_t c = 0; c < k; ++c) {
      chunks[c].begin = n * c / k;
      chunks[c].end = n * (c + 1) / k;
    }
  }
  std::span<const NodeView> viewsOf(const Chunk& c) const {
    return std::span<const NodeView>(views).subspan(c.begin, c.end - c.begin);
  }
};

namespace {

Extender::RequestState& threadState(const Config& c) {
  thread_local Extender::RequestState ts;
  if (ts.label != c.colocation_label || ts.label_value != c.colocation_label_value) {
    ts.parser = ArgsParser(c.colocation_label, c.colocation_label_value);
    ts.label = c.colocation_label;
    ts.label_value = c.colocation_label_value;
  }
  return ts;
}

}  // namespace

void Extender::prepareHelpers(size_t body_bytes) {
  // A NodeNames entry takes at least 3 bytes ("a",): a body this large may carry enough names.
  if (pool_.parallelism() > 1 &&
      body_bytes >= 3 * static_cast<size_t>(config_.parallel_min_nodes)) {
    pool_.prepare();
  }
}

ChunkPool::Lease Extender::leaseFor(size_t n) {
  if (pool_.parallelism() <= 1 || n < static_cast<size_t>(config_.parallel_min_nodes)) {
    return {};
  }
  return pool_.tryAcquire();
}

void Extender::lookUp(std::span<const std::string_view> names, const NodeCache::Index* index,
                      int64_t now_ms, Plugins::BalanceSums* sums, ChunkPool::Lease& lease,
                      RequestState& ts) {
  ts.views.resize(names.size());
  uint64_t unknown = 0;
  if (!lease) {
    unknown = lookUpRange(plugins_, names, index, now_ms, sums, ts.views.data());
  } else {
    auto chunk = [&](size_t c) {
      RequestState::Chunk& ch = ts.chunks[c];
      ch.sums = {};
      ch.unknown = lookUpRange(plugins_, names.subspan(ch.begin, ch.end - ch.begin), index, now_ms,
                               sums != nullptr ? &ch.sums : nullptr, ts.views.data() + ch.begin);
    };
    lease.run(ts.chunks.size(), chunk);
    Plugins::ExactBalanceSums total;
    for (const RequestState::Chunk& ch : ts.chunks) {
      unknown += ch.unknown;
      total.add(ch.sums);
    }
    if (sums != nullptr && !total.get(sums)) {
      for (const NodeView& v : ts.views) {  // not exact: the sequential additions, in order
        sums->add(v);
      }
    }
  }
  if (unknown > 0) {
    metrics_.unknown_nodes.fetch_add(unknown, std::memory_order_relaxed);
  }
}

bool Extender::summarizeChunks(ChunkPool::Lease& lease, RequestState& ts, int64_t now_ms) {
  // The cool-down state's mutex is held across the summaries, as summarizeAny holds it.
  const Placements::Batch batch(*placements_);
  if (!batch.any()) {
    return false;
  }
  ts.placed.resize(ts.views.size());
  const int64_t window_ms = int64_t{config_.cool_down.window_s} * 1000;
  auto chunk = [&](size_t c) {
    RequestState::Chunk& ch = ts.chunks[c];
    ch.refresh.clear();
    batch.summarize(ts.viewsOf(ch), now_ms, window_ms, ts.placed.data() + ch.begin, &ch.refresh);
  };
  lease.run(ts.chunks.size(), chunk);
  for (const RequestState::Chunk& ch : ts.chunks) {
    batch.commit(ch.refresh);
  }
  return true;
}

void Extender::filterChunks(ChunkPool::Lease& lease, RequestState& ts, int64_t now_ms,
                            std::string* out) {
  static const Placements::Summary kNothingPlaced{};
  const bool any_placed = summarizeChunks(lease, ts, now_ms);
  const ParsedArgs& args = ts.args;
  const std::span<const NodeView> views = ts.views;
  ts.answers.resize(views.size());
  NodeAnswer* answers = ts.answers.data();
  // Verdicts, as the sequential path makes them, with each chunk's reasons in its own buffer and
  // the exact size of each of its elements.
  auto verdicts = [&](size_t c) {
    RequestState::Chunk& ch = ts.chunks[c];
    ch.reasons.clear();
    for (int k = 0; k < 3; ++k) {
      ch.bytes[k] = 0;
      ch.count[k] = 0;
    }
    ReasonCache reasons(config_, &ch.reasons);
    for (size_t i = ch.begin; i < ch.end; ++i) {
      const NodeView& v = views[i];
      const FilterVerdict verdict =
          plugins_.filter(args.pod, v, any_placed ? ts.placed[i] : kNothingPlaced);
      const bool plain = JsonWriter::plain(v.name);
      const size_t name_bytes = plain ? v.name.size() + 2 : JsonWriter::strSize(v.name);
      NodeAnswer a{0, 0, 0, plain};
      if (verdict.kind != FilterVerdict::kPass) {
        a = reasons.of(verdict);
        a.plain_name = plain;
      }
      a.kind = static_cast<uint8_t>(verdict.kind);
      answers[i] = a;
      ch.bytes[a.kind] += verdict.kind == FilterVerdict::kPass
                              ? (args.nodes_mode ? v.raw_json.size() : name_bytes) + 1
                              : name_bytes + a.reason_len + 2;  // ':' and ','
      ++ch.count[a.kind];
    }
    metrics_.flushDecisions();  // this thread's per-node tallies (Plugins::filter)
  };
  lease.run(ts.chunks.size(), verdicts);
  // Where each chunk's elements go: the lists in order, a chunk's after the earlier chunks', a
  // comma between elements.
  const std::string_view head = args.nodes_mode ? kNodesHead : kNamesHead;
  const std::string_view failed = args.nodes_mode ? kNodesFailed : kNamesFailed;
  const std::string_view before[3] = {head, failed, kUnresolvable};
  size_t at = 0;
  size_t list_at[3];
  for (int k = 0; k < 3; ++k) {
    at += before[k].size();
    list_at[k] = at;
    size_t count = 0;
    for (RequestState::Chunk& ch : ts.chunks) {
      ch.after[k] = count > 0;
      ch.at[k] = at - (count > 0 ? 1 : 0);  // its first element's comma, when it has one
      at += ch.bytes[k];
      count += ch.count[k];
    }
    at -= count > 0 ? 1 : 0;  // the first element's comma, counted but not written
  }
  const size_t bytes = at + kTail.size();
  out->resize_and_overwrite(bytes, [&](char* base, size_t) {
    for (int k = 0; k < 3; ++k) {
      put(base + list_at[k] - before[k].size(), before[k]);
    }
    put(base + bytes - kTail.size(), kTail);
    auto write = [&](size_t c) {
      const RequestState::Chunk& ch = ts.chunks[c];
      auto name = [&](char* p, size_t i) {
        return answers[i].plain_name ? put(put(put(p, "\""), views[i].name), "\"")
                                     : JsonWriter::writeStr(p, views[i].name);
      };
      for (uint8_t kind = 0; kind < 3; ++kind) {
        if (ch.count[kind] == 0) {
          continue;
        }
        char* p = base + ch.at[kind];
        bool first = !ch.after[kind];
        for (size_t i = ch.begin; i < ch.end; ++i) {
          const NodeAnswer& a = answers[i];
          if (a.kind != kind) {
            continue;
          }
          if (!first) {
            *p++ = ',';
          }
          first = false;
          if (kind == FilterVerdict::kPass) {
            p = args.nodes_mode ? put(p, views[i].raw_json) : name(p, i);
          } else {
            p = name(p, i);
            *p++ = ':';
            p = put(p, std::string_view(ch.reasons).substr(a.reason_at, a.reason_len));
          }
        }
      }
    };
    lease.run(ts.chunks.size(), write);
    return bytes;
  });
}

void Extender::prioritizeChunks(ChunkPool::Lease& lease, RequestState& ts,
                                const Plugins::BalanceSums& sums, int64_t now_ms,
                                std::string* out) {
  static const Placements::Summary kNothingPlaced{};
  const ParsedArgs& args = ts.args;
  const std::span<const NodeView> views = ts.views;
  const Plugins::ScoreRound round = plugins_.startRound(args.pod, sums);
  const bool any_placed = summarizeChunks(lease, ts, now_ms);
  auto scores = [&](size_t c) {
    RequestState::Chunk& ch = ts.chunks[c];
    ch.round = round;
    ch.best = views.size();
    ch.best_score = -1;
    ch.out.clear();
    auto score_at = [&](size_t j) {
      const size_t i = ch.begin + j;
      const int64_t score = plugins_.scoreNode(args.pod, ch.round, views[i],
                                               any_placed ? ts.placed[i] : kNothingPlaced);
      if (score > ch.best_score) {
        ch.best_score = score;
        ch.best = i;
      }
      return score;
    };
    writeHostPriorityList(ts.viewsOf(ch), score_at, &ch.scores, &ch.out, /*whole=*/false,
                          /*comma_first=*/ch.begin > 0);
  };
  lease.run(ts.chunks.size(), scores);
  // The first node with the best score, and the decisions, over the chunks in order.
  Plugins::ScoreRound total = round;
  size_t best = views.size();
  int64_t best_score = -1;
  size_t bytes = 2;
  for (RequestState::Chunk& ch : ts.chunks) {
    if (ch.best_score > best_score) {
      best_score = ch.best_score;
      best = ch.best;
    }
    total.load_scored += ch.round.load_scored;
    total.balance_scored += ch.round.balance_scored;
    total.scored += ch.round.scored;
    ch.at[0] = bytes - 1;
    bytes += ch.out.size();
  }
  out->resize_and_overwrite(bytes, [&](char* base, size_t) {
    base[0] = '[';
    base[bytes - 1] = ']';
    auto copy = [&](size_t c) {
      const RequestState::Chunk& ch = ts.chunks[c];
      put(base + ch.at[0], ch.out);
    };
    lease.run(ts.chunks.size(), copy);
    return bytes;
  });
  plugins_.finishRound(args.pod, total, views, best, now_ms, /*record_winner=*/true);
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
      plugins_(config_, &metrics_, placements_),
      pool_(std::clamp(config_.request_parallelism, 1, Config::kMaxRequestParallelism)) {
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
  RequestState& ts = threadState(config_);
  prepareHelpers(body.size());
  if (auto bad = parseInto("filter", body, capacity, ts)) {
    return std::move(*bad);
  }
  const int64_t now = clock_();
  ParsedArgs& args = ts.args;
  std::string out;
  // Verdicts first (with each distinct reason written once), then the answer in one buffer
  // sized from them: the passing nodes, then the failing ones with their reasons.
  auto run = [&](std::span<const NodeView> views) {
    // Without any placement every summary is zero: skip filling 40 bytes per node.
    static const Placements::Summary kNothingPlaced{};
    const bool any_placed = placements_->summarizeAny(
        views, now, int64_t{config_.cool_down.window_s} * 1000, &ts.placed);
    std::string& reasons = ts.reasons;
    reasons.clear();
    ts.answers.resize(views.size());
    NodeAnswer* answers = ts.answers.data();
    ReasonCache reason_of(config_, &reasons);
    size_t pass_bytes = 0, fail_bytes = 0, unresolvable_bytes = 0;
    for (size_t i = 0; i < views.size(); ++i) {
      const NodeView& v = views[i];
      const FilterVerdict verdict =
          plugins_.filter(args.pod, v, any_placed ? ts.placed[i] : kNothingPlaced);
      const bool plain = JsonWriter::plain(v.name);
      const size_t name_bytes = plain ? v.name.size() + 2 : JsonWriter::strBound(v.name);
      if (verdict.kind == FilterVerdict::kPass) {
        answers[i] = NodeAnswer{0, 0, FilterVerdict::kPass, plain};
        pass_bytes += (args.nodes_mode ? v.raw_json.size() : name_bytes) + 1;
        continue;
      }
      NodeAnswer a = reason_of.of(verdict);
      a.kind = static_cast<uint8_t>(verdict.kind);
      a.plain_name = plain;
      answers[i] = a;
      (verdict.kind == FilterVerdict::kFail ? fail_bytes : unresolvable_bytes) +=
          name_bytes + a.reason_len + 2;  // ':' and ','
    }
    const size_t bytes = kNodesHead.size() + kNodesFailed.size() + kUnresolvable.size() +
                         kTail.size() + pass_bytes + fail_bytes + unresolvable_bytes;
    out.resize_and_overwrite(bytes, [&](char* base, size_t) {
      char* p = base;
      auto name = [&](char* p, size_t i) {
        return answers[i].plain_name ? put(put(put(p, "\""), views[i].name), "\"")
                                     : JsonWriter::writeStr(p, views[i].name);
      };
      p = put(p, args.nodes_mode ? kNodesHead : kNamesHead);
      bool first = true;
      for (size_t i = 0; i < views.size(); ++i) {
        if (answers[i].kind == FilterVerdict::kPass) {
          if (!first) {
            *p++ = ',';
          }
          first = false;
          p = args.nodes_mode ? put(p, views[i].raw_json) : name(p, i);
        }
      }
      p = put(p, args.nodes_mode ? kNodesFailed : kNamesFailed);
      for (uint8_t kind : {uint8_t{FilterVerdict::kFail}, uint8_t{FilterVerdict::kUnresolvable}}) {
        if (kind == FilterVerdict::kUnresolvable) {
          p = put(p, kUnresolvable);
        }
        first = true;
        for (size_t i = 0; i < views.size(); ++i) {
          const NodeAnswer& a = answers[i];
          if (a.kind == kind) {
            if (!first) {
              *p++ = ',';
            }
            first = false;
            p = name(p, i);
            *p++ = ':';
            p = put(p, std::string_view(reasons).substr(a.reason_at, a.reason_len));
          }
        }
      }
      p = put(p, kTail);
      return static_cast<size_t>(p - base);
    });
  };
  ts.views.clear();
  if (args.nodes_mode) {
    ts.views.reserve(args.nodes.size());
    for (const auto& item : args.nodes) {
      ts.views.push_back(NodeView{item.entry.name, &item.entry,
                                  plugins_.classify(&item.entry, now, item.entry.name), item.raw});
    }
    if (ChunkPool::Lease lease = leaseFor(ts.views.size())) {
      ts.split(ts.views.size(), static_cast<size_t>(pool_.parallelism()));
      filterChunks(lease, ts, now, &out);
    } else {
      run(ts.views);
    }
  } else {
    auto fill_and_run = [&](const NodeCache::Index* index) {
      ChunkPool::Lease lease = leaseFor(args.names.size());
      if (lease) {
        ts.split(args.names.size(), static_cast<size_t>(pool_.parallelism()));
      }
      lookUp(args.names, index, now, nullptr, lease, ts);
      if (lease) {
        filterChunks(lease, ts, now, &out);
      } else {
        run(ts.views);
      }
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
  RequestState& ts = threadState(config_);
  prepareHelpers(body.size());
  if (auto bad = parseInto("prioritize", body, capacity, ts)) {
    return std::move(*bad);
  }
  const int64_t now = clock_();
  ParsedArgs& args = ts.args;
  std::string out;
  // Scores are computed as the answer is written (one pass over the nodes), with the same
  // arithmetic as Plugins::score.
  auto run = [&](std::span<const NodeView> views, const Plugins::BalanceSums& sums) {
    Plugins::ScoreRound round = plugins_.startRound(args.pod, sums);
    static const Placements::Summary kNothingPlaced{};
    const bool any_placed = placements_->summarizeAny(
        views, now, int64_t{config_.cool_down.window_s} * 1000, &ts.placed);
    size_t best = views.size();
    int64_t best_score = -1;
    auto score_at = [&](size_t i) {
      const int64_t score =
          plugins_.scoreNode(args.pod, round, views[i], any_placed ? ts.placed[i] : kNothingPlaced);
      if (score > best_score) {
        best_score = score;
        best = i;
      }
      return score;
    };
    writeHostPriorityList(views, score_at, &ts.scores, &out);
    plugins_.finishRound(args.pod, round, views, best, now, /*record_winner=*/true);
  };
  ts.views.clear();
  Plugins::BalanceSums sums;
  if (args.nodes_mode) {
    ts.views.reserve(args.nodes.size());
    for (const auto& item : args.nodes) {
      ts.views.push_back(NodeView{
          item.entry.name, &item.entry, plugins_.classify(&item.entry, now, item.entry.name), {}});
      if (plugins_.wantsBalanceSums()) {
        sums.add(ts.views.back());
      }
    }
    if (ChunkPool::Lease lease = leaseFor(ts.views.size())) {
      ts.split(ts.views.size(), static_cast<size_t>(pool_.parallelism()));
      prioritizeChunks(lease, ts, sums, now, &out);
    } else {
      run(ts.views, sums);
    }
  } else {
    auto fill_and_run = [&](const NodeCache::Index* index) {
      ChunkPool::Lease lease = leaseFor(args.names.size());
      if (lease) {
        ts.split(args.names.size(), static_cast<size_t>(pool_.parallelism()));
      }
      lookUp(args.names, index, now, plugins_.wantsBalanceSums() ? &sums : nullptr, lease, ts);
      if (lease) {
        prioritizeChunks(lease, ts, sums, now, &out);
      } else {
        run(ts.views, sums);
      }
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
