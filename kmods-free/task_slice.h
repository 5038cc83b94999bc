// TaskSlicer: gives the tasks of BE containers a long EEVDF slice (sched_setattr's
// sched_runtime for a fair task, Linux >= 6.12), so that any task with a shorter slice that wakes
// on their CPU may override their slice protection. Opt-in (policy be_cpu.task_slice_us): on
// nginx next to stress-ng it measured worse LS p99, not better (docs/BENCHMARKS.md).
//
// Why: the kernel decides wakeup preemption where the two tasks' cgroup hierarchies meet. On a
// kubelet tree an LS pod (under burstable/) and a BE pod (under besteffort/) meet at kubepods/,
// where besteffort is an ordinary group entity (cpu.idle may not go there: kubelet writes its
// weight). Once picked, an entity's slice is protected (RUN_TO_PARITY): a waking LS task does
// not preempt it and, with HZ=250, waits for the next tick, up to 4 ms. The kernel's
// PREEMPT_SHORT rule overrides that protection when the waking entity's slice is shorter than
// the running one's, and a group entity's slice is the shortest of the tasks queued below it.
// BE tasks at the longest slice (100 ms) make besteffort's entity the longest, so every other
// wakeup preempts it; among themselves BE tasks run longer bursts (batch work prefers them).
//
// Invariants: only a fair task (SCHED_NORMAL/BATCH/IDLE) at the kernel's default slice is
// changed, and only a task at exactly colo's slice is changed back, so a slice set by someone
// else is never touched. The cgroups whose tasks colo changed are recorded in a state file
// (written and fsync'd before the first task of a cgroup is changed); restoreAll() (shutdown)
// and reconcile() (start after a crash) put every task still at colo's slice back to the default.
// A new task inherits its parent's slice, so a rescan every `rescan_interval_ns` only has to
// catch tasks moved into the cgroup from outside (e.g. a process exec'd into the container).
// Not thread-safe: one owner (the agent's loop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace colo::kmods {

// What sched_getattr says of a task.
struct TaskSched {
  uint32_t policy = 0;  // SCHED_NORMAL 0, SCHED_BATCH 3, SCHED_IDLE 5, ...
  int32_t nice = 0;
  uint64_t flags = 0;     // sched_flags
  uint64_t slice_ns = 0;  // sched_runtime: a fair task's slice (Linux >= 6.12)
  uint32_t priority = 0;
};

// The two system calls, replaceable in tests.
struct SchedOps {
  // ESRCH when the task is gone.
  std::function<Result<TaskSched>(int tid)> get;
  // Sets the task's slice (0: back to the kernel's default), keeping its policy, nice and
  // flags as `cur` gives them.
  std::function<Status(int tid, const TaskSched& cur, uint64_t slice_ns)> set;
};

// sched_getattr(2)/sched_setattr(2).
SchedOps realSchedOps();

// The kernel's default fair slice in ns when it accepts a custom one (sched_setattr with
// sched_runtime on a fair task, Linux >= 6.12), nullopt when it does not. Tried on a thread of
// its own that exits after, so the caller's own attributes are never touched.
std::optional<uint64_t> probeCustomSlice();

struct TaskSlicerOptions {
  std::string state_file;            // the record of cgroups whose tasks colo changed
  std::string tasks_file = "tasks";  // per cgroup: "tasks" (v1) or "cgroup.threads" (v2)
  uint64_t default_slice_ns = 0;     // the kernel's default slice (probeCustomSlice)
  int64_t rescan_interval_ns = 1'000'000'000;
};

struct TaskSliceCounts {
  uint64_t set = 0;       // tasks given colo's slice
  uint64_t restored = 0;  // tasks put back to the default
  uint64_t custom = 0;    // tasks left alone: a slice someone else set, or not a fair task
  uint64_t vanished = 0;  // tasks or cgroups gone before colo got to them (normal)
  uint64_t failed = 0;    // failed reads and system calls
  std::vector<std::string> errors;  // their messages (the last few)
};

struct TaskSliceStatus {
  uint64_t slice_ns = 0;  // the slice the last apply() asked for; 0: none
  size_t cgroups = 0;     // cgroups whose tasks are kept at it
  size_t tasks = 0;       // tasks at colo's slice after the last scan
  TaskSliceCounts total;  // since start (errors: the last few)
  uint64_t scans = 0;
};

class TaskSlicer {
 public:
  // `fs` and the state file's directory must exist for the slicer's life.
  TaskSlicer(TaskSlicerOptions options, FileSystem& fs, SchedOps ops);
  ~TaskSlicer();
  TaskSlicer(const TaskSlicer&) = delete;
  TaskSlicer& operator=(const TaskSlicer&) = delete;

  // Puts back the tasks a run that did not stop cleanly left at its slice (the state file), then
  // empties the record. Call once, before the first apply().
  TaskSliceCounts reconcile();
  // Keeps the tasks of `cgroups` (absolute directories, sorted) at `slice_ns`; every cgroup of the
  // last call that is not in this one gets its tasks back (tier changed, pod gone, feature turned
  // off with an empty list). A cgroup is scanned when it is new, and every rescan interval.
  TaskSliceCounts apply(const std::vector<std::string>& cgroups, uint64_t slice_ns, int64_t now_ns);
  // When apply() next has work to do without a change of cgroups.
  int64_t nextScanNs() const { return next_scan_ns_; }
  // Every task back to the default; the record is emptied (shutdown).
  TaskSliceCounts restoreAll();
  TaskSliceStatus status() const;

 private:
  struct Seen {
    int tid = 0;
    bool at_slice = false;  // at colo's slice (else left alone: custom slice, not fair)
  };
  struct Group {
    uint64_t slice_ns = 0;
    std::vector<Seen> seen;  // tasks handled at the last scan, by tid
    int64_t scanned_ns = 0;
    UniqueFd fd;  // the tasks file, kept open between scans
  };

  void scan(const std::string& dir, Group& g, int64_t now_ns, TaskSliceCounts& c);
  // sched_getattr of `tid`; nullopt when the task is gone or the call failed (both counted).
  std::optional<TaskSched> attrs(int tid, TaskSliceCounts& c);
  void restoreGroup(const std::string& dir, uint64_t slice_ns, TaskSliceCounts& c);
  // Reads dir's tasks file into tids_ (sorted); false when the cgroup is gone or unreadable.
  bool readTids(const std::string& dir, UniqueFd* fd, TaskSliceCounts& c);
  Status writeRecord();
  void account(const TaskSliceCounts& c);

  TaskSlicerOptions options_;
  FileSystem& fs_;
  SchedOps ops_;
  std::map<std::string, Group> groups_;  // by cgroup directory
  std::vector<int> tids_;                // scratch
  std::vector<Seen> next_seen_;          // scratch
  std::string buf_;                      // scratch
  uint64_t slice_ns_ = 0;
  int64_t next_scan_ns_ = 0;
  uint64_t scans_ = 0;
  TaskSliceCounts total_;
};

}  // namespace colo::kmods
