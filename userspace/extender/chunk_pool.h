// ChunkPool: helper threads that run the chunks of one large request's candidate list beside the
// thread serving the request (docs/extender.md, Performance). One request holds the helpers at a
// time (a Lease, taken without waiting); a request that finds them taken runs on its own thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace colo::extender {

class ChunkPool {
 public:
  // parallelism - 1 helper threads (1: none; the caller always works too).
  explicit ChunkPool(int parallelism);
  ~ChunkPool();
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  int parallelism() const { return static_cast<int>(helpers_.size()) + 1; }

  // The helpers, held by one request: run() only through a lease. Empty (false) when there are
  // no helpers or another request holds them.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept : pool_(o.pool_) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    explicit operator bool() const { return pool_ != nullptr; }
    // Runs fn(c) for every chunk c in [0, chunks) on the caller and the helpers; returns once
    // every chunk has finished (what the chunks wrote is then visible to the caller). The
    // chunks must not depend on which thread runs them or in which order. chunks <= kMaxChunks.
    template <typename F>
    void run(size_t chunks, F& fn) {
      pool_->runErased(
          static_cast<uint32_t>(chunks), [](void* f, size_t c) { (*static_cast<F*>(f))(c); }, &fn);
    }

   private:
    friend class ChunkPool;
    explicit Lease(ChunkPool* pool) : pool_(pool) {}
    ChunkPool* pool_ = nullptr;
  };
  Lease tryAcquire();

  // Wakes sleeping helpers so that they spin, ready for a run() about to come (a large request
  // is being parsed). Cheap when they are awake; harmless when another request holds them.
  void prepare();

  static constexpr size_t kMaxChunks = 0xffff;

 private:
  // Bits of claim_: the run's epoch (32), its chunk count (16), the next chunk to claim (16).
  // One word, so that a claim succeeds only for a chunk of the run it read.
  static constexpr uint64_t pack(uint32_t epoch, uint32_t chunks, uint32_t next) {
    return uint64_t{epoch} << 32 | uint64_t{chunks} << 16 | next;
  }
  using Call = void (*)(void* fn, size_t chunk);
  void runErased(uint32_t chunks, Call call, void* fn);
  // Claims and runs chunks of the current run until none is left.
  void work();
  void helperLoop();

  // What the owner writes for each run comes first; each counter the others hit has its own line.
  Call call_ = nullptr;  // written by the lease holder before publishing a run in claim_
  void* fn_ = nullptr;
  uint32_t epoch_ = 0;  // the lease holder's
  alignas(128) std::atomic<uint64_t> claim_{0};
  alignas(128) std::atomic<uint32_t> done_{0};  // chunks of the current run finished
  alignas(128) std::atomic<uint32_t> wake_{0};  // bumped for each run (and by prepare())
  std::atomic<uint32_t> sleeping_{0};
  std::atomic<bool> stop_{false};
  alignas(128) std::atomic<bool> leased_{false};
  std::vector<std::thread> helpers_;
};

}  // namespace colo::extender
