#include "extender/node_cache.h"

#include <mutex>

namespace colo::extender {

void NodeCache::upsert(NodeEntry node) {
  std::unique_lock lock(mu_);
  std::string name = node.name;
  map_.insert_or_assign(std::move(name), std::move(node));
}

void NodeCache::erase(std::string_view name) {
  std::unique_lock lock(mu_);
  auto it = map_.find(name);
  if (it != map_.end()) {
    map_.erase(it);
  }
}

void NodeCache::replaceAll(std::vector<NodeEntry> nodes) {
  Map fresh;
  fresh.reserve(nodes.size());
  for (auto& n : nodes) {
    std::string name = n.name;
    fresh.insert_or_assign(std::move(name), std::move(n));
  }
  {
    std::unique_lock lock(mu_);
    map_.swap(fresh);
  }
  synced_.store(true, std::memory_order_release);
}

size_t NodeCache::size() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

}  // namespace colo::extender
