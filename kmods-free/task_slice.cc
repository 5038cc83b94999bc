#include "kmods-free/task_slice.h"

#include <fmt/format.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace colo::kmods {
namespace {

constexpr const char* kRecordHeader = "colo-task-slices 1";
constexpr size_t kKeepErrors = 8;

// The kernel's struct sched_attr (include/uapi/linux/sched/types.h), SCHED_ATTR_SIZE_VER1.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};
static_assert(sizeof(SchedAttr) == 56);

constexpr uint32_t kSchedNormal = 0;
constexpr uint32_t kSchedBatch = 3;
constexpr uint32_t kSchedIdle = 5;
// SCHED_FLAG_KEEP_POLICY | SCHED_FLAG_KEEP_PARAMS and the utilization-clamp flags are left out
// on purpose: the call restates policy and nice as read, and keeps the rest.
constexpr uint64_t kSchedFlagResetOnFork = 0x01;

bool fairPolicy(uint32_t p) { return p == kSchedNormal || p == kSchedBatch || p == kSchedIdle; }

Result<TaskSched> realGet(int tid) {
  SchedAttr a{};
  if (::syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) != 0) {
    return failErrno(errno, fmt::format("sched_getattr {}", tid));
  }
  return TaskSched{a.sched_policy, a.sched_nice, a.sched_flags, a.sched_runtime, a.sched_priority};
}

Status realSet(int tid, const TaskSched& cur, uint64_t slice_ns) {
  SchedAttr a{};
  a.size = sizeof(a);
  a.sched_policy = cur.policy;
  a.sched_flags = cur.flags & kSchedFlagResetOnFork;
  a.sched_nice = cur.nice;
  a.sched_priority = cur.priority;
  a.sched_runtime = slice_ns;
  if (::syscall(SYS_sched_setattr, tid, &a, 0) != 0) {
    return failErrno(errno, fmt::format("sched_setattr {} sched_runtime {}", tid, slice_ns));
  }
  return ok();
}

void keepError(std::vector<std::string>& errors, std::string e) {
  if (errors.size() >= kKeepErrors) {
    errors.erase(errors.begin());
  }
  errors.push_back(std::move(e));
}

void noteError(TaskSliceCounts& c, std::string e) {
  ++c.failed;
  keepError(c.errors, std::move(e));
}

void merge(TaskSliceCounts& into, const TaskSliceCounts& c) {
  into.set += c.set;
  into.restored += c.restored;
  into.custom += c.custom;
  into.vanished += c.vanished;
  into.failed += c.failed;
  for (const auto& e : c.errors) {
    keepError(into.errors, e);
  }
}

}  // namespace

SchedOps realSchedOps() { return SchedOps{realGet, realSet}; }

std::optional<uint64_t> probeCustomSlice() {
  std::optional<uint64_t> base;
  // A thread of its own: whatever the probe does to it ends with it.
  std::thread t([&base] {
    int tid = static_cast<int>(::gettid());
    auto cur = realGet(tid);
    if (!cur || !fairPolicy(cur->policy)) {
      return;
    }
    // Any value the kernel would keep (it clamps to 0.1..100 ms) that is not a default slice.
    constexpr uint64_t kProbe = 7'300'000;
    if (!realSet(tid, *cur, kProbe)) {
      return;
    }
    auto got = realGet(tid);
    if (!got || got->slice_ns != kProbe) {
      return;  // before 6.12 sched_runtime is ignored for fair tasks
    }
    if (!realSet(tid, *cur, 0)) {
      return;
    }
    if (auto def = realGet(tid); def && def->slice_ns != 0 && def->slice_ns != kProbe) {
      base = def->slice_ns;
    }
  });
  t.join();
  return base;
}

TaskSlicer::TaskSlicer(TaskSlicerOptions options, FileSystem& fs, SchedOps ops)
    : options_(std::move(options)), fs_(fs), ops_(std::move(ops)) {}

TaskSlicer::~TaskSlicer() = default;

bool TaskSlicer::readTids(const std::string& dir, UniqueFd* fd, TaskSliceCounts& c) {
  tids_.clear();
  std::string path = joinPath(dir, options_.tasks_file);
  auto st = fs_.readFileKeptInto(path, fd, &buf_);
  if (!st && fd->valid()) {
    fd->reset();  // a kept descriptor of a removed cgroup fails with ENODEV: reopen once
    st = fs_.readFileKeptInto(path, fd, &buf_);
  }
  if (!st) {
    if (st.error().code() == ENOENT || st.error().code() == ENODEV) {
      ++c.vanished;
    } else {
      noteError(c, st.error().message());
    }
    return false;
  }
  const char* p = buf_.data();
  const char* end = p + buf_.size();
  while (p < end) {
    int tid = 0;
    auto [q, ec] = std::from_chars(p, end, tid);
    if (ec == std::errc()) {
      tids_.push_back(tid);
      p = q;
    } else {
      ++p;
    }
  }
  std::sort(tids_.begin(), tids_.end());
  return true;
}

std::optional<TaskSched> TaskSlicer::attrs(int tid, TaskSliceCounts& c) {
  auto cur = ops_.get(tid);
  if (cur) {
    return *cur;
  }
  if (cur.error().code() == ESRCH) {
    ++c.vanished;
  } else {
    noteError(c, cur.error().message());
  }
  return std::nullopt;
}

void TaskSlicer::scan(const std::string& dir, Group& g, int64_t now_ns, TaskSliceCounts& c) {
  g.scanned_ns = now_ns;
  if (!readTids(dir, &g.fd, c)) {
    return;
  }
  // Tasks seen at the last scan were handled then (their children inherit the slice); only the
  // new ones cost system calls.
  next_seen_.clear();
  auto old = g.seen.begin();
  for (int tid : tids_) {
    while (old != g.seen.end() && old->tid < tid) {
      ++old;
    }
    if (old != g.seen.end() && old->tid == tid) {
      next_seen_.push_back(*old);
      continue;
    }
    auto cur = attrs(tid, c);
    if (!cur) {
      continue;
    }
    bool at = false;
    if (cur->slice_ns == g.slice_ns) {
      at = true;
    } else if (!fairPolicy(cur->policy) || cur->slice_ns != options_.default_slice_ns) {
      ++c.custom;
    } else if (auto st = ops_.set(tid, *cur, g.slice_ns); st) {
      ++c.set;
      at = true;
    } else if (st.error().code() == ESRCH) {
      ++c.vanished;
      continue;
    } else {
      noteError(c, st.error().message());
      continue;  // not seen: tried again at the next scan
    }
    next_seen_.push_back(Seen{tid, at});
  }
  g.seen.swap(next_seen_);
}

void TaskSlicer::restoreGroup(const std::string& dir, uint64_t slice_ns, TaskSliceCounts& c) {
  UniqueFd fd;
  if (!readTids(dir, &fd, c)) {
    return;
  }
  for (int tid : tids_) {
    auto cur = attrs(tid, c);
    if (!cur) {
      continue;
    }
    if (!fairPolicy(cur->policy) || cur->slice_ns != slice_ns) {
      continue;  // not at colo's value: someone else's, or already back
    }
    if (auto st = ops_.set(tid, *cur, 0); st) {
      ++c.restored;
    } else if (st.error().code() == ESRCH) {
      ++c.vanished;
    } else {
      noteError(c, st.error().message());
    }
  }
}

Status TaskSlicer::writeRecord() {
  std::string body = std::string(kRecordHeader) + "\n";
  for (const auto& [dir, g] : groups_) {
    body += fmt::format("{} {}\n", g.slice_ns, dir);
  }
  return writeFileDurably(options_.state_file, body);
}

TaskSliceCounts TaskSlicer::reconcile() {
  TaskSliceCounts c;
  std::ifstream in(options_.state_file);
  if (!in) {
    return c;  // no record: the last run stopped cleanly, or never changed a task
  }
  std::string line;
  std::getline(in, line);
  if (line != kRecordHeader) {
    noteError(c, fmt::format("{}: not a task-slice record (first line '{}'); ignored",
                             options_.state_file, line));
  } else {
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      uint64_t slice = 0;
      std::string dir;
      if (!(ls >> slice) || !(ls >> std::ws) || !std::getline(ls, dir) || dir.empty()) {
        noteError(c, fmt::format("{}: bad line '{}'", options_.state_file, line));
        continue;
      }
      restoreGroup(dir, slice, c);
    }
  }
  if (auto st = writeRecord(); !st) {
    noteError(c, st.error().wrap("empty the task-slice record").message());
  }
  account(c);
  return c;
}

TaskSliceCounts TaskSlicer::apply(const std::vector<std::string>& cgroups, uint64_t slice_ns,
                                  int64_t now_ns) {
  TaskSliceCounts c;
  if (!std::is_sorted(cgroups.begin(), cgroups.end())) {
    std::vector<std::string> sorted = cgroups;
    std::sort(sorted.begin(), sorted.end());
    return apply(sorted, slice_ns, now_ns);
  }
  slice_ns_ = slice_ns;
  // Cgroups that left the set (or a slice that changed): their tasks go back first.
  bool record_dirty = false;
  for (auto it = groups_.begin(); it != groups_.end();) {
    bool keep = slice_ns != 0 && it->second.slice_ns == slice_ns &&
                std::binary_search(cgroups.begin(), cgroups.end(), it->first);
    if (keep) {
      ++it;
      continue;
    }
    restoreGroup(it->first, it->second.slice_ns, c);
    it = groups_.erase(it);
    record_dirty = true;
  }
  if (slice_ns == 0) {
    if (record_dirty) {
      if (auto st = writeRecord(); !st) {
        noteError(c, st.error().wrap("task-slice record").message());
      }
    }
    next_scan_ns_ = INT64_MAX;
    account(c);
    return c;
  }
  // New cgroups are recorded before any of their tasks changes (a crash in between leaves a
  // record with nothing to undo, never the reverse).
  bool added = false;
  for (const auto& dir : cgroups) {
    if (groups_.find(dir) == groups_.end()) {
      groups_[dir].slice_ns = slice_ns;
      added = true;
    }
  }
  if (added || record_dirty) {
    if (auto st = writeRecord(); !st) {
      noteError(c, st.error().wrap("task-slice record: no task changed").message());
      // Without the record a crash could leave tasks changed: drop the new cgroups.
      for (auto it = groups_.begin(); it != groups_.end();) {
        it = it->second.scanned_ns == 0 && it->second.seen.empty() ? groups_.erase(it) : ++it;
      }
      account(c);
      return c;
    }
  }
  int64_t next = INT64_MAX;
  for (auto& [dir, g] : groups_) {
    if (g.scanned_ns == 0 || now_ns - g.scanned_ns >= options_.rescan_interval_ns) {
      scan(dir, g, now_ns, c);
      ++scans_;
    }
    next = std::min(next, g.scanned_ns + options_.rescan_interval_ns);
  }
  next_scan_ns_ = next;
  account(c);
  return c;
}

TaskSliceCounts TaskSlicer::restoreAll() {
  TaskSliceCounts c;
  for (const auto& [dir, g] : groups_) {
    restoreGroup(dir, g.slice_ns, c);
  }
  groups_.clear();
  if (auto st = writeRecord(); !st) {
    noteError(c, st.error().wrap("empty the task-slice record").message());
  }
  next_scan_ns_ = INT64_MAX;
  account(c);
  return c;
}

void TaskSlicer::account(const TaskSliceCounts& c) { merge(total_, c); }

TaskSliceStatus TaskSlicer::status() const {
  TaskSliceStatus s;
  s.slice_ns = slice_ns_;
  s.cgroups = groups_.size();
  for (const auto& [dir, g] : groups_) {
    s.tasks += static_cast<size_t>(
        std::count_if(g.seen.begin(), g.seen.end(), [](const Seen& t) { return t.at_slice; }));
  }
  s.total = total_;
  s.scans = scans_;
  return s;
}

}  // namespace colo::kmods
