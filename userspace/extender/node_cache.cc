#include "extender/node_cache.h"

#include <bit>
#include <mutex>

namespace colo::extender {

void NodeCache::Index::rebuild(const Map& map) {
  size_t cap = std::bit_ceil(std::max<size_t>(16, map.size() * 2 + 1));
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  used_ = 0;
  for (const auto& [name, entry] : map) {
    insert(nameHash(name), &entry);
  }
}

void NodeCache::Index::add(const NodeEntry* entry) {
  if ((used_ + 1) * 2 > slots_.size()) {
    // Grow: reinsert what is there into an array twice the size.
    std::vector<Slot> old = std::move(slots_);
    size_t cap = std::max<size_t>(16, old.size() * 2);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    used_ = 0;
    for (const Slot& s : old) {
      if (s.entry != nullptr) {
        insert(s.hash, s.entry);
      }
    }
  }
  insert(nameHash(entry->name), entry);
}

void NodeCache::Index::insert(uint64_t hash, const NodeEntry* entry) {
  size_t i = hash & mask_;
  while (slots_[i].entry != nullptr) {
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{hash, entry};
  ++used_;
}

void NodeCache::upsert(NodeEntry node) {
  std::unique_lock lock(mu_);
  auto it = map_.find(node.name);
  if (it != map_.end()) {
    node.placements = it->second.placements;  // the state follows the name
    it->second = std::move(node);             // a replaced entry keeps its address
    return;
  }
  std::string name = node.name;
  it = map_.emplace(std::move(name), std::move(node)).first;
  placements_.link(&it->second);
  index_.add(&it->second);
}

void NodeCache::erase(std::string_view name) {
  std::unique_lock lock(mu_);
  auto it = map_.find(name);
  if (it != map_.end()) {
    // Requests hold the shared lock while they use entries and their links: none is running.
    placements_.unlink(&it->second);
    map_.erase(it);
    index_.rebuild(map_);  // node deletions are rare; linear probing has no cheap removal
  }
}

void NodeCache::replaceAll(std::vector<NodeEntry> nodes) {
  Map fresh;
  fresh.reserve(nodes.size());
  for (auto& n : nodes) {
    std::string name = n.name;
    fresh.insert_or_assign(std::move(name), std::move(n));
  }
  // Linked before they are published; a name in both lists is linked twice for a moment.
  for (auto& [name, entry] : fresh) {
    entry.placements = nullptr;
    placements_.link(&entry);
  }
  Index index;
  index.rebuild(fresh);  // the entries' addresses survive the swap
  {
    std::unique_lock lock(mu_);
    map_.swap(fresh);
    std::swap(index_, index);
  }
  // No request sees the old entries any more (they ran under the shared lock).
  for (auto& [name, entry] : fresh) {
    placements_.unlink(&entry);
  }
  synced_.store(true, std::memory_order_release);
}

size_t NodeCache::size() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

}  // namespace colo::extender
