// nameHash: the hash of node names shared by the node cache's index and the cool-down state.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

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

}  // namespace colo::extender
