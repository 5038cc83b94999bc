#include "extender/chunk_pool.h"

#include <time.h>

namespace colo::extender {
namespace {

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

int64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// How long a helper spins for the next run before it sleeps: the phases of one request follow
// each other within microseconds, and a futex wake-up of a sleeping thread can cost tens of them
// (deep C-states), so helpers stay awake across a request's phases but not between requests.
constexpr int64_t kSpinNs = 50'000;

}  // namespace

ChunkPool::ChunkPool(int parallelism) {
  for (int i = 1; i < parallelism; ++i) {
    helpers_.emplace_back([this] { helperLoop(); });
  }
}

ChunkPool::~ChunkPool() {
  stop_.store(true);
  wake_.fetch_add(1);
  wake_.notify_all();
  for (std::thread& t : helpers_) {
    t.join();
  }
}

ChunkPool::Lease::~Lease() {
  if (pool_ != nullptr) {
    pool_->leased_.store(false, std::memory_order_release);
  }
}

ChunkPool::Lease ChunkPool::tryAcquire() {
  bool expected = false;
  if (helpers_.empty() || leased_.load(std::memory_order_relaxed) ||
      !leased_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    return Lease();
  }
  return Lease(this);
}

void ChunkPool::prepare() {
  if (sleeping_.load() > 0) {
    wake_.fetch_add(1);
    wake_.notify_all();
  }
}

void ChunkPool::runErased(uint32_t chunks, Call call, void* fn) {
  call_ = call;
  fn_ = fn;
  ++epoch_;
  done_.store(0, std::memory_order_relaxed);
  // Publishes call_ and fn_ with the run: a helper reads them only after claiming one of its
  // chunks, and the next run cannot overwrite them before every chunk of this one has finished.
  claim_.store(pack(epoch_, chunks, 0), std::memory_order_release);
  // seq_cst with the helpers' sleeping_ increment: either they see the new wake_ before they
  // sleep, or this load sees them asleep and wakes them.
  wake_.fetch_add(1);
  if (sleeping_.load() > 0) {
    wake_.notify_all();
  }
  work();
  for (uint32_t spins = 0; done_.load(std::memory_order_acquire) != chunks; ++spins) {
    // A helper preempted in the middle of a chunk: let others run after a while.
    if (spins < 4096) {
      cpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
}

void ChunkPool::work() {
  uint64_t v = claim_.load(std::memory_order_acquire);
  for (;;) {
    const auto chunks = static_cast<uint32_t>(v >> 16 & 0xffff);
    const auto next = static_cast<uint32_t>(v & 0xffff);
    if (next >= chunks) {
      return;
    }
    if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;  // v holds the current value
    }
    call_(fn_, next);
    done_.fetch_add(1, std::memory_order_release);
    v = claim_.load(std::memory_order_acquire);
  }
}

void ChunkPool::helperLoop() {
  uint32_t seen = wake_.load(std::memory_order_acquire);
  while (!stop_.load(std::memory_order_relaxed)) {
    uint32_t w = wake_.load(std::memory_order_acquire);
    if (w == seen) {
      const int64_t until = monotonicNs() + kSpinNs;
      for (int i = 1; w == seen; ++i) {
        cpuRelax();
        if (i % 64 == 0 && monotonicNs() > until) {
          break;
        }
        w = wake_.load(std::memory_order_acquire);
      }
      if (w == seen) {
        sleeping_.fetch_add(1);
        wake_.wait(seen);
        sleeping_.fetch_sub(1);
        continue;
      }
    }
    seen = w;
    work();
  }
}

}  // namespace colo::extender
