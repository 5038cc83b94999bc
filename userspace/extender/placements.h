// Placements: the CoolDownHotNode state, pods placed recently by node (docs/extender.md,
// Plugins and Performance).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "extender/name_hash.h"
#include "extender/types.h"

namespace colo::extender {

// A pod assumed placed on a node (the node scored best in a prioritize round).
struct Placement {
  int64_t at_ms;
  int64_t cpu_m;
  int64_t memory_bytes;
  int64_t be_cpu_m;
  int64_t be_memory_bytes;
};

// What the placements on a node add to its figures at a given time.
struct PlacementSummary {
  double penalty = 0;  // sum of (1 - age/window) over wins inside the window
  int64_t cpu_m = 0, memory_bytes = 0, be_cpu_m = 0, be_memory_bytes = 0;  // since `since_ms`
};

// One node's state in Placements (the link in NodeEntry points here). Only Placements reads or
// writes it, under its mutex.
class NodePlacements {
 private:
  friend class Placements;
  struct Usage {
    int64_t cpu_m = 0, memory_bytes = 0, be_cpu_m = 0, be_memory_bytes = 0;
    void add(const Placement& p, int64_t sign) {
      cpu_m += sign * p.cpu_m;
      memory_bytes += sign * p.memory_bytes;
      be_cpu_m += sign * p.be_cpu_m;
      be_memory_bytes += sign * p.be_memory_bytes;
    }
  };

  size_t size() const { return placed_.size() - head_; }
  bool empty() const { return head_ == placed_.size(); }
  const Placement& front() const { return placed_[head_]; }
  void insert(const Placement& p);
  void popFront();
  PlacementSummary summarize(int64_t now_ms, int64_t window_ms, int64_t since_ms);
  // summarize() without changing the state: *resummed tells that since_ms differs from the
  // running totals' and there are placements after it (summarize() would store the summary's
  // usage as the new totals).
  PlacementSummary peek(int64_t now_ms, int64_t window_ms, int64_t since_ms, bool* resummed) const;

  // What a summary reads comes first.
  // Ordered by at_ms, equal times in recording order; the live entries are placed_[head_..]
  // (a vector with a moving start: indexing it is cheaper than a deque's).
  std::vector<Placement> placed_;
  size_t head_ = 0;
  // The usage of the placements with at_ms > since_ms_ (the last since asked about).
  int64_t since_ms_ = INT64_MIN;
  Usage after_since_;
  std::string_view name_;  // the key in Placements::by_name_
  uint32_t links_ = 0;     // node cache entries pointing here
  bool listed_ = false;    // in Placements::placed_ (exactly when it holds placements)
};

// Pods placed recently, by node name. Thread-safe: every member takes one mutex.
//
// A request asks for every candidate node's summary, so each node keeps its placements ordered
// by time and running totals of the usage placed after the last metrics timestamp it was asked
// about: while that timestamp does not change (the node sent no newer report) a summary costs
// O(1) for the usage plus the wins still inside the cool-down window, however many placements
// the node keeps (up to maxMetricsAgeSeconds). A newer report re-sums only the placements after
// it; record() and prune() keep the totals up to date.
//
// The node cache links each of its entries to the entry's state here (NodeEntry::placements,
// link()/unlink()), so a request's candidates reach their state without hashing their names;
// candidates without a link (Nodes mode, names unknown to the cache) are looked up by name. The
// state belongs to the name, not to the cache entry: it survives the node leaving and
// re-entering the cache, and a relist.
class Placements {
 public:
  using Placement = extender::Placement;
  using Summary = PlacementSummary;

  Placements() = default;
  Placements(const Placements&) = delete;
  Placements& operator=(const Placements&) = delete;

  void record(std::string_view node, Placement p);
  // record() for a request's candidate: through its cache entry's link when it has one.
  void record(const NodeView& node, Placement p);
  // Wins inside [now - window, now] and the usage placed after since_ms.
  Summary summarize(std::string_view node, int64_t now_ms, int64_t window_ms,
                    int64_t since_ms) const;
  // summarize() for every node under one lock; since_ms is each node's metrics timestamp (now
  // when it has none). A node's entry, when linked, must be linked to this Placements.
  void summarizeMany(std::span<const NodeView> nodes, int64_t now_ms, int64_t window_ms,
                     std::vector<Summary>* out) const;
  // summarizeMany(), except that when no placement is kept it returns false and leaves `out`
  // alone (every summary would be zero).
  bool summarizeAny(std::span<const NodeView> nodes, int64_t now_ms, int64_t window_ms,
                    std::vector<Summary>* out) const;
  // summarizeAny() spread over threads (the extender's parallel path): holds the mutex while
  // alive. summarize() may run on several threads at once for disjoint parts of the candidates,
  // each ordered after the batch's construction and before commit() (the ChunkPool's hand-offs
  // order them); it changes no state, and notes the running totals summarizeAny() would have
  // refreshed, which commit() then stores. The summaries are summarizeAny()'s.
  class Batch {
   public:
    struct Refresh {
      NodePlacements* node;
      int64_t since_ms;
      int64_t cpu_m, memory_bytes, be_cpu_m, be_memory_bytes;
    };
    explicit Batch(const Placements& p) : p_(p), lock_(p.mu_), any_(p.placed_count_ > 0) {}
    // False when no placement is kept: every summary is zero (as summarizeAny's false).
    bool any() const { return any_; }
    // out[i] for nodes[i]; appends to `refresh`.
    void summarize(std::span<const NodeView> nodes, int64_t now_ms, int64_t window_ms, Summary* out,
                   std::vector<Refresh>* refresh) const {
      p_.summarizeRange(nodes, now_ms, window_ms, out, refresh);
    }
    void commit(std::span<const Refresh> refresh) const { p_.commitRefresh(refresh); }

   private:
    const Placements& p_;
    std::unique_lock<std::mutex> lock_;
    bool any_;
  };

  // Drops entries older than keep_ms.
  void prune(int64_t now_ms, int64_t keep_ms);
  // No placement recorded (or all pruned): every summary would be zero.
  bool empty() const {
    std::lock_guard<std::mutex> lock(mu_);
    return placed_count_ == 0;
  }

  // For the node cache: points entry->placements at the state of entry->name (created empty when
  // the name has none), which then stays until the matching unlink(). Links are counted: during
  // a relist a name is linked from its old and its new entry.
  void link(NodeEntry* entry);
  // Drops entry's link (and sets it to null); the state is forgotten once it is neither linked
  // nor holds placements.
  void unlink(NodeEntry* entry);
  // Names with a state (linked, or holding placements): for tests.
  size_t nodeStates() const {
    std::lock_guard<std::mutex> lock(mu_);
    return by_name_.size();
  }

  // Most placements kept per node (the oldest go first): bounds memory under a burst.
  static constexpr size_t kMaxPerNode = 4096;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return nameHash(s); }
  };
  using Map = std::unordered_map<std::string, NodePlacements, Hash, std::equal_to<>>;

  NodePlacements* find(std::string_view name) const;
  NodePlacements* stateOf(const NodeView& node) const;
  // Calls visit(i, state) for each candidate in order (state nullptr: none), with the states and
  // their newest placements loaded a few candidates ahead (placements.cc).
  template <class Visit>
  void forEachState(std::span<const NodeView> nodes, Visit&& visit) const;
  NodePlacements& findOrCreate(std::string_view name);
  void recordLocked(NodePlacements& n, Placement p);
  void summarizeRange(std::span<const NodeView> nodes, int64_t now_ms, int64_t window_ms,
                      Summary* out, std::vector<Batch::Refresh>* refresh) const;
  void commitRefresh(std::span<const Batch::Refresh> refresh) const;
  void forgetIfUnused(NodePlacements& n);

  mutable std::mutex mu_;
  // Node states change under a read (the totals follow the timestamp asked about): mutable.
  // std::unordered_map keeps its elements' addresses, which the links and placed_ hold.
  mutable Map by_name_;
  std::vector<NodePlacements*> placed_;  // the states holding placements: what prune() walks
  size_t placed_count_ = 0;              // placements kept, over every node
};

}  // namespace colo::extender
