// Executor: the only way colo writes a cgroup knob.
//
// Every write is journaled (old value, new value, reason, revision; fsync'd) before the file is
// touched, read back and verified after, and rolled back when it fails. Writes are rate-limited.
// restoreAll() puts every knob the executor changed back to the value it had before colo first
// touched it (on SIGTERM); reconcile() does the same at start-up from the journal a crashed run
// left behind, so nothing stays throttled or pinned by a dead agent. Knobs whose cgroup vanished
// (ENOENT) are dropped.
//
// Revisions group the writes of one decision (a policy tick) with its reason; rollback() undoes
// one revision as a new revision.
//
// Freeze: after `freeze_after_failures` consecutive failed writes (cgroupfs not writable,
// verification failing, journal not writable) the executor freezes: it refuses writes, except one
// probe write per `freeze_probe_interval` whose success thaws it. Health says why, so the policy
// engine can freeze its controllers and report the reason. Vanished cgroups and restores
// (failures are reported in RestoreReport) do not count.
//
// Thread-safety: every public method takes an internal mutex, so calls from several threads are
// safe, but colo uses one Executor from the agent's single event loop. Only one process may own
// a state directory at a time (flock on <state_dir>/executor.lock).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/executor/journal.h"
#include "common/fs.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace colo::executor {

struct ExecutorOptions {
  std::string state_dir = "/var/lib/colo";
  // Token bucket: at most this many cgroup writes per second (burst: one second's worth).
  // Restores (restoreAll, reconcile, rollback) are not limited.
  double max_writes_per_sec = 200;
  uint32_t freeze_after_failures = 3;
  int64_t freeze_probe_interval_ns = 30'000'000'000;
  // Rotated journals kept for `coloctl revisions`.
  uint32_t keep_journals = 8;
  // Between revisions, a journal longer than this is compacted: the next one starts with the
  // knobs still to restore (baseline records) and the old one joins the rotated history.
  size_t compact_after_records = 100000;
  // Monotonic clock in ns (rate limit, freeze probe); steady_clock when empty. For tests.
  std::function<int64_t()> clock;
};

struct Health {
  uint64_t writes = 0;        // verified writes
  uint64_t unchanged = 0;     // writes skipped because the knob already had the value
  uint64_t failures = 0;      // failed writes (rolled back)
  uint64_t rollbacks = 0;     // writes undone after a failure or failed verification
  uint64_t rate_limited = 0;  // writes refused by the rate limit
  uint64_t vanished = 0;      // writes or restores whose cgroup was gone (ENOENT)
  uint32_t consecutive_failures = 0;
  bool journal_ok = true;
  bool frozen = false;
  std::string reason;      // why frozen ("" when not)
  std::string last_error;  // last failure, for logs and the API
};

struct RestoreReport {
  bool had_crashed_run = false;  // reconcile(): the previous run did not shut down cleanly
  size_t restored = 0;           // knobs written back
  size_t already = 0;            // knobs that already had their old value
  size_t vanished = 0;           // knobs whose cgroup is gone: dropped
  std::vector<std::string> errors;
  // Knobs restored to an equivalent rather than the identical value, and why.
  std::vector<std::string> notes;
  bool ok() const { return errors.empty(); }
};

struct WriteInfo {
  uint64_t seq = 0;
  std::string path;
  std::string old_value;
  std::string new_value;
  std::string reason;
  std::string outcome;  // "ok", "failed: <error>", or "pending" (the run died during the write)
};

struct RevisionInfo {
  uint64_t id = 0;
  int64_t time_ns = 0;
  std::string reason;
  std::string journal;  // file it was read from
  std::vector<WriteInfo> writes;
};

// Every revision in the journals of `state_dir` (rotated ones first), oldest first. Read-only:
// works while an agent owns the directory.
Result<std::vector<RevisionInfo>> listRevisions(const std::string& state_dir);

class Executor {
 public:
  // Takes ownership of `state_dir` (creating it) and loads the journal of the previous run, if
  // any. Fails when another process owns the directory, or it cannot be created or written.
  // `fs` must outlive the executor.
  static Result<std::unique_ptr<Executor>> open(FileSystem& fs, ExecutorOptions options);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Call once at start-up, before the first write. When the previous run crashed, restores every
  // knob it changed to its value before that run, dropping vanished cgroups; then starts a fresh
  // journal (the old one is kept for history). Knobs that could not be restored are carried into
  // the new journal, so a later restoreAll() or reconcile() retries them.
  Result<RestoreReport> reconcile();

  // Starts a revision: the writes until endRevision() belong to it. A revision gets its id at
  // its first write; one without writes leaves no trace.
  void beginRevision(const std::string& reason);
  void endRevision();
  // Id of the open revision once it has written something.
  std::optional<uint64_t> currentRevision() const;

  // Writes `value` to the knob at `path` (journal, write, verify, roll back on failure). A knob
  // already at `value` is not written. Errors: ENOENT (cgroup gone), EAGAIN (rate-limited),
  // ECANCELED (frozen), EIO (did not verify), or the kernel's error; the knob keeps its old value.
  // Without an open revision the write gets a revision of its own.
  Status write(const std::string& path, const std::string& value, const std::string& reason);

  // Restores knobs to their values before colo first changed them (no-op for knobs colo never
  // changed). cpusets are widened parents-first and narrowed children-first, so v1 hierarchy
  // rules hold at every step; other knobs are restored in the order given.
  RestoreReport restorePaths(const std::vector<std::string>& paths, const std::string& reason);
  // Restores every knob colo changed, most recent first, and marks the journal clean when all
  // succeeded (vanished knobs count as success).
  RestoreReport restoreAll(const std::string& reason);
  // Undoes revision `id` of this journal: writes its old values back, as a new revision.
  Result<RestoreReport> rollback(uint64_t id);

  // Paths colo has changed and would restore, with their original values.
  std::map<std::string, std::string> baseline() const;
  Health health() const;
  // False while frozen or while the journal cannot be written.
  bool writable() const;
  const std::string& journalFile() const { return journal_file_; }

 private:
  Executor(FileSystem& fs, ExecutorOptions options);
  int64_t now() const;
  Status appendLocked(JournalRecord record, bool sync);
  Status writeLocked(const std::string& path, const std::string& value, const std::string& reason,
                     bool restoring);
  Status ensureRevisionLocked();
  Status openWriterLocked();
  // The knob's current value, read through a descriptor kept open in kept_ (the plan is
  // re-applied every few seconds: an open(2) per knob was ~5 % of colod's CPU, measured). A
  // kept descriptor that fails (its cgroup gone: ENODEV) is retried once with a fresh open.
  Result<std::string> readKnobLocked(const std::string& path);
  // A knob is back at its pre-colo value (or its cgroup is gone): no baseline, no kept fd.
  void forgetLocked(const std::string& path);
  RestoreReport restoreLocked(const std::vector<std::string>& order, const std::string& reason);
  void noteFailureLocked(const std::string& error, bool counts_for_freeze);
  // Replaces the journal with one holding only the knobs still to restore (baseline records);
  // the old one, if it recorded anything, joins the rotated history.
  Status startFreshJournalLocked();
  void loadLocked(const std::vector<JournalRecord>& records);

  FileSystem& fs_;
  ExecutorOptions options_;
  mutable std::mutex mu_;
  int lock_fd_ = -1;
  std::string journal_file_;
  std::optional<JournalWriter> writer_;
  std::vector<JournalRecord> loaded_;  // records of the journal found at open()
  bool previous_clean_ = true;
  bool reconciled_ = false;

  // Knob -> value before colo touched it; `order_` lists paths in first-touch order.
  std::map<std::string, std::string> baseline_;
  std::vector<std::string> order_;
  // Descriptors of knobs colo writes, kept open for readKnobLocked; at most kMaxKeptFds.
  static constexpr size_t kMaxKeptFds = 4096;
  std::unordered_map<std::string, UniqueFd> kept_;

  uint64_t next_seq_ = 1;
  uint64_t next_revision_ = 1;
  bool revision_open_ = false;     // beginRevision() called
  bool revision_written_ = false;  // its record is in the journal
  uint64_t current_revision_ = 0;
  std::string current_reason_;

  double tokens_ = 0;
  int64_t tokens_at_ns_ = 0;
  int64_t next_probe_ns_ = 0;
  Health health_;
};

}  // namespace colo::executor
