// NodeCache: the nodes the extender knows from its list+watch of the Kubernetes API
// (nodeCacheCapable: true), and their cool-down state. Written by the watcher thread, read by
// the HTTP workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "extender/name_hash.h"
#include "extender/placements.h"
#include "extender/types.h"

namespace colo::extender {

class NodeCache {
 public:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return nameHash(s); }
  };
  using Map = std::unordered_map<std::string, NodeEntry, Hash, std::equal_to<>>;

  // Open-addressing index over the map's entries (whose addresses are stable): one probe into
  // a flat array of {hash, entry} per lookup instead of a bucket walk. Rebuilt or extended by
  // every write, under the exclusive lock.
  class Index {
   public:
    // The entry named `name` (hash: nameHash(name)), or null.
    const NodeEntry* find(std::string_view name, uint64_t hash) const {
      if (slots_.empty()) {
        return nullptr;
      }
      for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
        const Slot& s = slots_[i];
        if (s.entry == nullptr) {
          return nullptr;
        }
        if (s.hash == hash && sameName(s.entry->name, name)) {
          return s.entry;
        }
      }
    }
    const NodeEntry* find(std::string_view name) const { return find(name, nameHash(name)); }
    // Starts loading the slot where a lookup of `hash` begins (batch lookups: hash and prefetch
    // all names first, then probe, so the cache misses overlap).
    void prefetch(uint64_t hash) const {
      if (!slots_.empty()) {
        __builtin_prefetch(&slots_[hash & mask_]);
      }
    }
    void rebuild(const Map& map);
    void add(const NodeEntry* entry);  // a name not in the index yet

   private:
    // a == b without a call to memcmp for the usual node name (8 to 16 bytes: two overlapping
    // 8-byte compares).
    static bool sameName(std::string_view a, std::string_view b) {
      const size_t n = a.size();
      if (n != b.size()) {
        return false;
      }
      if (n < 8 || n > 16) {
        return a == b;
      }
      uint64_t a0, a1, b0, b1;
      std::memcpy(&a0, a.data(), 8);
      std::memcpy(&b0, b.data(), 8);
      std::memcpy(&a1, a.data() + n - 8, 8);
      std::memcpy(&b1, b.data() + n - 8, 8);
      return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    struct Slot {
      uint64_t hash = 0;
      const NodeEntry* entry = nullptr;
    };
    void insert(uint64_t hash, const NodeEntry* entry);
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t used_ = 0;
  };

  // Adds or replaces a node. Each entry is linked to its node's state in placements() (kept
  // across replacements of the entry, a removal and a relist: the state follows the name).
  void upsert(NodeEntry node);
  void erase(std::string_view name);
  // Replaces everything (after a list); marks the cache synced.
  void replaceAll(std::vector<NodeEntry> nodes);
  // Runs fn(map) under a shared lock; fn must not call back into the cache.
  template <typename F>
  auto read(F&& fn) const {
    std::shared_lock lock(mu_);
    return fn(static_cast<const Map&>(map_));
  }
  // Runs fn(index) under a shared lock: the fast path of the request handlers.
  template <typename F>
  auto readIndex(F&& fn) const {
    std::shared_lock lock(mu_);
    return fn(static_cast<const Index&>(index_));
  }
  size_t size() const;
  bool synced() const { return synced_.load(std::memory_order_acquire); }
  // The cool-down state of the extender serving from this cache (its own lock: request handlers
  // update it under the cache's shared lock). Entries read inside read()/readIndex() carry
  // their node's link into it (NodeEntry::placements).
  Placements& placements() { return placements_; }

 private:
  // Declared first: destroyed last, after the entries that link into it.
  Placements placements_;
  mutable std::shared_mutex mu_;
  Map map_;
  Index index_;
  std::atomic<bool> synced_{false};
};

}  // namespace colo::extender
