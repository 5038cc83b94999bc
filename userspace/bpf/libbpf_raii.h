// RAII owners for libbpf objects: skeletons, links, ring buffers. Each frees its object once, with
// the matching libbpf destructor.
#pragma once

#include <bpf/libbpf.h>

#include <memory>
#include <utility>

namespace colo::bpf {

// Skeleton<T>: owns a bpftool skeleton (struct T with T##__destroy). Use with the skeleton's
// free function: Skeleton<sched_bpf> skel(sched_bpf__open(), sched_bpf__destroy).
template <typename T>
class Skeleton {
 public:
  using Destroy = void (*)(T*);
  Skeleton() = default;
  Skeleton(T* skel, Destroy destroy) : skel_(skel), destroy_(destroy) {}
  ~Skeleton() { reset(); }
  Skeleton(const Skeleton&) = delete;
  Skeleton& operator=(const Skeleton&) = delete;
  Skeleton(Skeleton&& other) noexcept
      : skel_(std::exchange(other.skel_, nullptr)), destroy_(other.destroy_) {}
  Skeleton& operator=(Skeleton&& other) noexcept {
    if (this != &other) {
      reset();
      skel_ = std::exchange(other.skel_, nullptr);
      destroy_ = other.destroy_;
    }
    return *this;
  }

  T* get() const { return skel_; }
  T* operator->() const { return skel_; }
  explicit operator bool() const { return skel_ != nullptr; }
  void reset() {
    if (skel_ != nullptr && destroy_ != nullptr) {
      destroy_(skel_);
    }
    skel_ = nullptr;
  }

 private:
  T* skel_ = nullptr;
  Destroy destroy_ = nullptr;
};

struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
// An attached program; destroying it detaches the program.
using BpfLink = std::unique_ptr<bpf_link, LinkDeleter>;

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};
// A libbpf ring buffer manager (one epoll fd over one or more BPF ring buffers).
using RingBuffer = std::unique_ptr<ring_buffer, RingBufferDeleter>;

}  // namespace colo::bpf
