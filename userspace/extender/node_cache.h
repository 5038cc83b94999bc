// NodeCache: the nodes the extender knows from its list+watch of the Kubernetes API
// (nodeCacheCapable: true). Written by the watcher thread, read by the HTTP workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "extender/types.h"

namespace colo::extender {

class NodeCache {
 public:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, NodeEntry, Hash, std::equal_to<>>;

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
  size_t size() const;
  bool synced() const { return synced_.load(std::memory_order_acquire); }

 private:
  mutable std::shared_mutex mu_;
  Map map_;
  std::atomic<bool> synced_{false};
};

}  // namespace colo::extender
