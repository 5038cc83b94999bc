// NodeCache: the nodes the extender knows from its list+watch of the Kubernetes API
// (nodeCacheCapable: true). Written by the watcher thread, read by the HTTP workers.
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

#include "extender/types.h"

namespace colo::extender {

// A fast 64-bit hash for node names (short ASCII strings): 8 bytes per multiply, no
// per-byte loop. Not meant to resist crafted collisions; names come from the API server and
// kube-scheduler, and a collision only costs a longer probe.
inline uint64_t nameHash(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
  auto mix = [](uint64_t h, uint64_t w) {
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
  };
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mix(h, w);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = mix(h, w);
  }
  h = (h ^ (h >> 29)) * 0x94d049bb133111ebull;
  return h ^ (h >> 32);
}

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
        if (s.hash == hash && s.entry->name == name) {
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
    struct Slot {
      uint64_t hash = 0;
      const NodeEntry* entry = nullptr;
    };
    void insert(uint64_t hash, const NodeEntry* entry);
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t used_ = 0;
  };

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

 private:
  mutable std::shared_mutex mu_;
  Map map_;
  Index index_;
  std::atomic<bool> synced_{false};
};

}  // namespace colo::extender
