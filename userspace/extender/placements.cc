#include "extender/placements.h"

#include <algorithm>
#include <iterator>

namespace colo::extender {

void NodePlacements::insert(const Placement& p) {
  // Requests served concurrently may record slightly out of order: keep the entries ordered.
  auto pos = placed_.end();
  const auto first = placed_.begin() + static_cast<ptrdiff_t>(head_);
  while (pos != first && std::prev(pos)->at_ms > p.at_ms) {
    --pos;
  }
  placed_.insert(pos, p);
  if (p.at_ms > since_ms_) {
    after_since_.add(p, 1);
  }
}

void NodePlacements::popFront() {
  if (front().at_ms > since_ms_) {
    after_since_.add(front(), -1);
  }
  if (++head_ == placed_.size()) {
    placed_.clear();
    head_ = 0;
  } else if (head_ >= 64 && head_ * 2 >= placed_.size()) {
    placed_.erase(placed_.begin(), placed_.begin() + static_cast<ptrdiff_t>(head_));
    head_ = 0;
  }
}

PlacementSummary NodePlacements::peek(int64_t now_ms, int64_t window_ms, int64_t since,
                                      bool* resummed) const {
  PlacementSummary out;
  *resummed = false;
  const Placement* first = placed_.data() + head_;
  const Placement* last = placed_.data() + placed_.size();
  // Wins inside the window: the newest entries. Find where they start, then add them oldest
  // first (the order the penalty has always been summed in).
  const Placement* end = last;
  while (end != first && end[-1].at_ms > now_ms) {
    --end;  // in the future (another request's clock): age < 0, no penalty
  }
  const Placement* begin = end;
  while (begin != first && now_ms - begin[-1].at_ms < window_ms) {
    --begin;
  }
  for (const Placement* p = begin; p != end; ++p) {
    int64_t age = now_ms - p->at_ms;
    out.penalty += 1.0 - static_cast<double>(age) / static_cast<double>(window_ms);
  }
  // Usage placed after `since`: the running totals while `since` stays the same.
  if (first == last || last[-1].at_ms <= since) {
    return out;  // nothing after it (e.g. since = now for a node without usable metrics)
  }
  Usage after = after_since_;
  if (since != since_ms_) {
    // A newer (or other) metrics timestamp: re-sum the placements after it, newest first. Integer
    // sums: the same totals in any order, so equal to the running totals for the same `since`.
    after = {};
    for (const Placement* p = last; p != first && p[-1].at_ms > since; --p) {
      after.add(p[-1], 1);
    }
    *resummed = true;
  }
  out.cpu_m = after.cpu_m;
  out.memory_bytes = after.memory_bytes;
  out.be_cpu_m = after.be_cpu_m;
  out.be_memory_bytes = after.be_memory_bytes;
  return out;
}

PlacementSummary NodePlacements::summarize(int64_t now_ms, int64_t window_ms, int64_t since) {
  bool resummed;
  PlacementSummary out = peek(now_ms, window_ms, since, &resummed);
  if (resummed) {
    after_since_ = {out.cpu_m, out.memory_bytes, out.be_cpu_m, out.be_memory_bytes};
    since_ms_ = since;
  }
  return out;
}

NodePlacements* Placements::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

NodePlacements* Placements::stateOf(const NodeView& node) const {
  if (node.entry != nullptr && node.entry->placements != nullptr) {
    return node.entry->placements;
  }
  return find(node.name);
}

NodePlacements& Placements::findOrCreate(std::string_view name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    it = by_name_.emplace(std::string(name), NodePlacements{}).first;
    it->second.name_ = it->first;
  }
  return it->second;
}

void Placements::recordLocked(NodePlacements& n, Placement p) {
  n.insert(p);
  ++placed_count_;
  if (!n.listed_) {
    n.listed_ = true;
    placed_.push_back(&n);
  }
  if (n.size() > kMaxPerNode) {
    n.popFront();
    --placed_count_;
  }
}

void Placements::forgetIfUnused(NodePlacements& n) {
  if (n.links_ == 0 && n.empty()) {
    by_name_.erase(by_name_.find(n.name_));
  }
}

void Placements::record(std::string_view node, Placement p) {
  std::lock_guard<std::mutex> lock(mu_);
  recordLocked(findOrCreate(node), p);
}

void Placements::record(const NodeView& node, Placement p) {
  std::lock_guard<std::mutex> lock(mu_);
  NodePlacements* n = stateOf(node);
  recordLocked(n != nullptr ? *n : findOrCreate(node.name), p);
}

Placements::Summary Placements::summarize(std::string_view node, int64_t now_ms, int64_t window_ms,
                                          int64_t since_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  NodePlacements* n = find(node);
  return n != nullptr ? n->summarize(now_ms, window_ms, since_ms) : Summary{};
}

// Finds every candidate's state (its cache entry's link: no hashing) and starts loading it; then
// visits them, loading the newest placements of the state a few candidates ahead, so that the
// memory misses of thousands of states and their placements overlap.
template <class Visit>
void Placements::forEachState(std::span<const NodeView> nodes, Visit&& visit) const {
  thread_local std::vector<NodePlacements*> states;
  states.resize(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    NodePlacements* n = stateOf(nodes[i]);
    states[i] = n;
    if (n != nullptr) {
      __builtin_prefetch(n);
    }
  }
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i + kAhead < nodes.size()) {
      const NodePlacements* next = states[i + kAhead];
      if (next != nullptr && !next->empty()) {
        const char* newest = reinterpret_cast<const char*>(&next->placed_.back());
        __builtin_prefetch(newest);
        __builtin_prefetch(newest - 64);
      }
    }
    visit(i, states[i]);
  }
}

bool Placements::summarizeAny(std::span<const NodeView> nodes, int64_t now_ms, int64_t window_ms,
                              std::vector<Summary>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (placed_count_ == 0) {
    return false;
  }
  out->resize(nodes.size());
  forEachState(nodes, [&](size_t i, NodePlacements* n) {
    if (n == nullptr || n->empty()) {
      (*out)[i] = Summary{};
      return;
    }
    const NodeView& v = nodes[i];
    int64_t since = v.state == MetricsState::kOk ? v.entry->metrics.timestamp_ms : now_ms;
    (*out)[i] = n->summarize(now_ms, window_ms, since);
  });
  return true;
}

void Placements::summarizeRange(std::span<const NodeView> nodes, int64_t now_ms, int64_t window_ms,
                                Summary* out, std::vector<Batch::Refresh>* refresh) const {
  // As summarizeAny(), reading only.
  forEachState(nodes, [&](size_t i, NodePlacements* n) {
    if (n == nullptr || n->empty()) {
      out[i] = Summary{};
      return;
    }
    const NodeView& v = nodes[i];
    int64_t since = v.state == MetricsState::kOk ? v.entry->metrics.timestamp_ms : now_ms;
    bool resummed;
    out[i] = n->peek(now_ms, window_ms, since, &resummed);
    if (resummed) {
      refresh->push_back(
          {n, since, out[i].cpu_m, out[i].memory_bytes, out[i].be_cpu_m, out[i].be_memory_bytes});
    }
  });
}

void Placements::commitRefresh(std::span<const Batch::Refresh> refresh) const {
  for (const Batch::Refresh& r : refresh) {
    r.node->after_since_ = {r.cpu_m, r.memory_bytes, r.be_cpu_m, r.be_memory_bytes};
    r.node->since_ms_ = r.since_ms;
  }
}

void Placements::summarizeMany(std::span<const NodeView> nodes, int64_t now_ms, int64_t window_ms,
                               std::vector<Summary>* out) const {
  if (!summarizeAny(nodes, now_ms, window_ms, out)) {
    out->assign(nodes.size(), Summary{});
  }
}

void Placements::prune(int64_t now_ms, int64_t keep_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t kept = 0;
  for (NodePlacements* n : placed_) {
    while (!n->empty() && now_ms - n->front().at_ms > keep_ms) {
      n->popFront();
      --placed_count_;
    }
    if (!n->empty()) {
      placed_[kept++] = n;
      continue;
    }
    n->listed_ = false;
    forgetIfUnused(*n);
  }
  placed_.resize(kept);
}

void Placements::link(NodeEntry* entry) {
  std::lock_guard<std::mutex> lock(mu_);
  NodePlacements& n = findOrCreate(entry->name);
  ++n.links_;
  entry->placements = &n;
}

void Placements::unlink(NodeEntry* entry) {
  if (entry->placements == nullptr) {
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  NodePlacements& n = *entry->placements;
  entry->placements = nullptr;
  --n.links_;
  forgetIfUnused(n);
}

}  // namespace colo::extender
