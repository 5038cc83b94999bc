#include "bpf/cgstat_iter.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "abi/cgstat.h"
#include "bpf/libbpf_raii.h"
#include "cgstat.skel.h"
#include "common/unique_fd.h"

namespace colo::bpf {

namespace {

constexpr const char* kBtfPath = "/sys/kernel/btf/vmlinux";
constexpr const char* kFallback = "colod falls back to cgroupfs reads";
// Whole records per read(2). The kernel fills at most its own seq buffer (8 pages) per call, so
// a bigger buffer would not save syscalls.
constexpr size_t kReadBytes = sizeof(colo_cgstat_record) * 1024;

std::string privilegeHint(int err) {
  return err == EPERM || err == EACCES ? ": run as root or grant CAP_BPF+CAP_PERFMON" : "";
}

}  // namespace

struct CgroupStatIter::State {
  std::string dir;
  UniqueFd cgroup_fd;
  Skeleton<cgstat_bpf> skel;
  BpfLink link;
  std::vector<char> buf;
};

CgroupStatIter::CgroupStatIter(std::unique_ptr<State> state) : state_(std::move(state)) {}
CgroupStatIter::~CgroupStatIter() = default;

const std::string& CgroupStatIter::dir() const { return state_->dir; }

Result<std::unique_ptr<CgroupStatIter>> CgroupStatIter::open(const std::string& cgroup_dir,
                                                             bool leaves_only) {
  auto state = std::make_unique<State>();
  state->dir = cgroup_dir;
  state->cgroup_fd.reset(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!state->cgroup_fd.valid()) {
    return failErrno(errno, fmt::format("open cgroup directory {}", cgroup_dir));
  }
  struct statfs fs {};
  if (::fstatfs(state->cgroup_fd.get(), &fs) != 0) {
    return failErrno(errno, fmt::format("statfs {}", cgroup_dir));
  }
  if (fs.f_type != CGROUP_SUPER_MAGIC && fs.f_type != CGROUP2_SUPER_MAGIC) {
    return failInvalid(fmt::format(
        "{} is not a cgroup directory (not on a cgroup or cgroup2 file system)", cgroup_dir));
  }
  if (::access(kBtfPath, R_OK) != 0) {
    return failErrno(errno, fmt::format("no BTF at {}: this kernel was built without "
                                        "CONFIG_DEBUG_INFO_BTF; {}",
                                        kBtfPath, kFallback));
  }
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus < 0) {
    return failErrno(-ncpus, "count possible CPUs");
  }
  if (ncpus > COLO_CGSTAT_MAX_CPUS) {
    return fail(
        Error(ERANGE, fmt::format("{} possible CPUs, the cgroup iterator sums at most {}; {}",
                                  ncpus, static_cast<int>(COLO_CGSTAT_MAX_CPUS), kFallback)));
  }

  state->skel = Skeleton<cgstat_bpf>(cgstat_bpf__open(), cgstat_bpf__destroy);
  if (!state->skel) {
    return failErrno(errno, "open the cgstat BPF skeleton");
  }
  state->skel->rodata->nr_cpus = static_cast<uint32_t>(ncpus);
  state->skel->rodata->leaves_only = leaves_only;
  if (int rc = cgstat_bpf__load(state->skel.get()); rc != 0) {
    return failErrno(-rc, fmt::format("load the iter/cgroup program (needs Linux 6.2+ with BTF; "
                                      "libbpf's log above says why){}; {}",
                                      privilegeHint(-rc), kFallback));
  }

  union bpf_iter_link_info info {};
  info.cgroup.cgroup_fd = static_cast<uint32_t>(state->cgroup_fd.get());
  info.cgroup.order = BPF_CGROUP_ITER_DESCENDANTS_PRE;
  LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof(info));
  state->link.reset(bpf_program__attach_iter(state->skel->progs.cgstat_iter, &opts));
  if (!state->link) {
    int err = errno;
    return failErrno(err, fmt::format("attach the cgroup iterator to {}{}; {}", cgroup_dir,
                                      privilegeHint(err), kFallback));
  }
  state->buf.resize(kReadBytes);
  return std::unique_ptr<CgroupStatIter>(new CgroupStatIter(std::move(state)));
}

Status CgroupStatIter::read(std::vector<CgroupCpuFigures>* out) {
  out->clear();
  // Each instance walks the tree once; the link stays, instances are cheap.
  UniqueFd iter(bpf_iter_create(bpf_link__fd(state_->link.get())));
  if (!iter.valid()) {
    return failErrno(errno, fmt::format("create a cgroup iterator over {}", state_->dir));
  }
  char* buf = state_->buf.data();
  size_t filled = 0;  // bytes in buf not parsed yet (a partial record after a short read)
  for (;;) {
    ssize_t n = ::read(iter.get(), buf + filled, state_->buf.size() - filled);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      if (err == EOPNOTSUPP || err == E2BIG) {
        // cgroup_iter cannot resume a walk across read(2) calls (it drops cgroup_mutex), and
        // one call returns at most the kernel's seq buffer (8 pages: 819 records with 4 KiB).
        return failErrno(err, fmt::format("read the cgroup iterator over {}: more cgroups than "
                                          "one kernel read returns (stopped after {}); open one "
                                          "iterator per subtree (e.g. per QoS class) instead",
                                          state_->dir, out->size()));
      }
      return failErrno(err, fmt::format("read the cgroup iterator over {}", state_->dir));
    }
    if (n == 0) {
      break;
    }
    filled += static_cast<size_t>(n);
    size_t off = 0;
    for (; off + sizeof(colo_cgstat_record) <= filled; off += sizeof(colo_cgstat_record)) {
      colo_cgstat_record rec;
      std::memcpy(&rec, buf + off, sizeof(rec));
      if (rec.version != COLO_CGSTAT_ABI_VERSION) {
        return failErrno(EPROTO,
                         fmt::format("cgroup iterator record version {}, this binary "
                                     "speaks version {}",
                                     rec.version, static_cast<int>(COLO_CGSTAT_ABI_VERSION)));
      }
      CgroupCpuFigures& f = out->emplace_back();
      f.id = rec.id;
      f.usage_ns = rec.usage_ns;
      f.nr_periods = rec.nr_periods;
      f.nr_throttled = rec.nr_throttled;
      f.limit_mcpu = rec.limit_mcpu;
      f.throttled_ns = rec.throttled_ns;
      f.level = rec.level;
      f.has_cpu_css = (rec.flags & COLO_CGSTAT_HAS_CPU_CSS) != 0;
      f.partial = (rec.flags & COLO_CGSTAT_READ_ERROR) != 0;
    }
    std::memmove(buf, buf + off, filled - off);
    filled -= off;
  }
  if (filled != 0) {
    return failErrno(EPROTO, fmt::format("cgroup iterator over {} ended inside a record ({} bytes)",
                                         state_->dir, filled));
  }
  return ok();
}

}  // namespace colo::bpf
