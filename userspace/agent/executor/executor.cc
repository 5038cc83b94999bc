#include "agent/executor/executor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "agent/executor/knob_value.h"
#include "common/log.h"

namespace colo::executor {
namespace {

constexpr std::string_view kLog = "executor";
constexpr std::string_view kJournalName = "journal.jsonl";

// Rotated journals "journal.<n>.jsonl", by n ascending.
std::vector<std::pair<uint64_t, std::string>> rotatedJournals(const std::string& state_dir) {
  std::vector<std::pair<uint64_t, std::string>> out;
  DIR* dir = ::opendir(state_dir.c_str());
  if (dir == nullptr) {
    return out;
  }
  while (dirent* ent = ::readdir(dir)) {
    std::string_view name(ent->d_name);
    if (!name.starts_with("journal.") || !name.ends_with(".jsonl") || name == kJournalName) {
      continue;
    }
    std::string_view mid = name.substr(8, name.size() - 8 - 6);
    if (mid.empty() ||
        !std::all_of(mid.begin(), mid.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    out.emplace_back(std::stoull(std::string(mid)), joinPath(state_dir, name));
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

Status mkdirAll(const std::string& path) {
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) {
      end = path.size();
    }
    cur = path.substr(0, end);
    pos = end + 1;
    if (cur.empty()) {
      continue;
    }
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
      return failErrno(errno, "mkdir " + cur);
    }
  }
  return ok();
}

std::vector<RevisionInfo> revisionsOf(const std::vector<JournalRecord>& records,
                                      const std::string& file) {
  std::vector<RevisionInfo> out;
  std::map<uint64_t, size_t> by_id;
  std::map<uint64_t, std::pair<size_t, size_t>> by_seq;  // seq -> (revision index, write index)
  for (const auto& r : records) {
    switch (r.type) {
      case RecordType::kRevision: {
        by_id[r.revision] = out.size();
        out.push_back(RevisionInfo{r.revision, r.time_ns, r.reason, file, {}});
        break;
      }
      case RecordType::kWrite: {
        auto it = by_id.find(r.revision);
        if (it == by_id.end()) {
          by_id[r.revision] = out.size();
          out.push_back(RevisionInfo{r.revision, r.time_ns, r.reason, file, {}});
          it = by_id.find(r.revision);
        }
        auto& rev = out[it->second];
        by_seq[r.seq] = {it->second, rev.writes.size()};
        rev.writes.push_back(
            WriteInfo{r.seq, r.path, r.old_value, r.new_value, r.reason, "pending"});
        break;
      }
      case RecordType::kDone:
      case RecordType::kFailed: {
        auto it = by_seq.find(r.seq);
        if (it != by_seq.end()) {
          out[it->second.first].writes[it->second.second].outcome =
              r.type == RecordType::kDone ? "ok" : "failed: " + r.error;
        }
        break;
      }
      default:
        break;
    }
  }
  return out;
}

}  // namespace

Result<std::vector<RevisionInfo>> listRevisions(const std::string& state_dir) {
  std::vector<std::string> files;
  for (const auto& [n, f] : rotatedJournals(state_dir)) {
    files.push_back(f);
  }
  files.push_back(joinPath(state_dir, kJournalName));
  std::vector<RevisionInfo> out;
  for (const auto& f : files) {
    auto records = readJournal(f);
    if (!records) {
      if (records.error().code() == ENOENT) {
        continue;
      }
      return fail(records.error().wrap("list revisions"));
    }
    auto revs = revisionsOf(*records, f);
    out.insert(out.end(), revs.begin(), revs.end());
  }
  return out;
}

Executor::Executor(FileSystem& fs, ExecutorOptions options)
    : fs_(fs), options_(std::move(options)) {}

Executor::~Executor() {
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
  }
}

Result<std::unique_ptr<Executor>> Executor::open(FileSystem& fs, ExecutorOptions options) {
  if (options.state_dir.empty()) {
    return failInvalid("executor: empty state directory");
  }
  if (options.max_writes_per_sec <= 0) {
    return failInvalid("executor: max_writes_per_sec must be positive");
  }
  std::unique_ptr<Executor> ex(new Executor(fs, std::move(options)));
  const std::string& dir = ex->options_.state_dir;
  if (auto st = mkdirAll(dir); !st) {
    return fail(st.error().wrap("executor state directory (set --state-dir to a writable path)"));
  }
  std::string lock_file = joinPath(dir, "executor.lock");
  ex->lock_fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (ex->lock_fd_ < 0) {
    return failErrno(errno, "open " + lock_file);
  }
  if (::flock(ex->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(ex->lock_fd_, buf, sizeof(buf) - 1, 0);
    std::string owner = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!owner.empty() && owner.back() == '\n') {
      owner.pop_back();
    }
    if (err == EWOULDBLOCK) {
      return failErrno(EBUSY, "state directory " + dir + " is owned by pid " + owner +
                                  " (a running colod?); stop it first");
    }
    return failErrno(err, "flock " + lock_file);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(ex->lock_fd_, 0) != 0 || ::pwrite(ex->lock_fd_, pid.data(), pid.size(), 0) < 0) {
    return failErrno(errno, "write " + lock_file);
  }

  ex->journal_file_ = joinPath(dir, kJournalName);
  uint64_t max_rev = 0;
  for (const auto& [n, f] : rotatedJournals(dir)) {
    if (auto recs = readJournal(f)) {
      for (const auto& r : *recs) {
        max_rev = std::max(max_rev, r.revision);
      }
    }
  }
  size_t skipped = 0;
  auto records = readJournal(ex->journal_file_, &skipped);
  if (skipped > 0) {
    log::warn(kLog, "{}: {} unreadable lines skipped (knobs they named cannot be restored)",
              ex->journal_file_, skipped);
  }
  if (records) {
    ex->loadLocked(*records);
  } else if (records.error().code() != ENOENT) {
    return fail(records.error().wrap("load executor journal"));
  }
  for (const auto& r : ex->loaded_) {
    max_rev = std::max(max_rev, r.revision);
  }
  ex->next_revision_ = max_rev + 1;
  ex->tokens_ = std::max(1.0, ex->options_.max_writes_per_sec);
  ex->tokens_at_ns_ = ex->now();
  return ex;
}

void Executor::loadLocked(const std::vector<JournalRecord>& records) {
  loaded_ = records;
  previous_clean_ = true;
  for (const auto& r : records) {
    switch (r.type) {
      case RecordType::kWrite:
      case RecordType::kBaseline:
        if (baseline_.emplace(r.path, r.old_value).second) {
          order_.push_back(r.path);
        }
        previous_clean_ = false;
        next_seq_ = std::max(next_seq_, r.seq + 1);
        break;
      case RecordType::kClean:
        // Everything before a clean record was restored.
        baseline_.clear();
        order_.clear();
        previous_clean_ = true;
        break;
      default:
        next_seq_ = std::max(next_seq_, r.seq + 1);
        break;
    }
  }
}

int64_t Executor::now() const {
  if (options_.clock) {
    return options_.clock();
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status Executor::openWriterLocked() {
  if (writer_) {
    return ok();
  }
  auto w = JournalWriter::open(journal_file_);
  if (!w) {
    return fail(w.error());
  }
  writer_.emplace(std::move(*w));
  JournalRecord start;
  start.type = RecordType::kStart;
  start.time_ns = wallClockNs();
  start.pid = ::getpid();
  if (auto st = writer_->append(start, true); !st) {
    writer_.reset();
    return st;
  }
  loaded_.push_back(start);
  return ok();
}

Status Executor::appendLocked(JournalRecord record, bool sync) {
  if (auto st = openWriterLocked(); !st) {
    return st;
  }
  record.time_ns = wallClockNs();
  if (auto st = writer_->append(record, sync); !st) {
    return st;
  }
  loaded_.push_back(std::move(record));
  return ok();
}

Result<RestoreReport> Executor::reconcile() {
  std::lock_guard<std::mutex> lock(mu_);
  RestoreReport report;
  if (reconciled_) {
    return report;
  }
  report.had_crashed_run = !previous_clean_ && !baseline_.empty();
  if (report.had_crashed_run) {
    log::warn(kLog, "previous run did not shut down cleanly: restoring {} knobs from {}",
              baseline_.size(), journal_file_);
    std::vector<std::string> order(order_.rbegin(), order_.rend());
    auto restored = restoreLocked(order, "reconcile after unclean shutdown");
    restored.had_crashed_run = true;
    report = std::move(restored);
  }
  // Whatever could not be restored (not vanished) stays in baseline_ and is carried over into
  // the fresh journal.
  if (auto st = startFreshJournalLocked(); !st) {
    return fail(st.error().wrap("reconcile"));
  }
  reconciled_ = true;
  if (report.had_crashed_run) {
    log::info(kLog,
              "reconciled: {} restored, {} already at their old value, {} vanished, {} errors",
              report.restored, report.already, report.vanished, report.errors.size());
  }
  return report;
}

void Executor::beginRevision(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  revision_open_ = true;
  revision_written_ = false;
  current_reason_ = reason;
}

void Executor::endRevision() {
  std::lock_guard<std::mutex> lock(mu_);
  revision_open_ = false;
  revision_written_ = false;
  if (loaded_.size() > options_.compact_after_records) {
    if (auto st = startFreshJournalLocked(); !st) {
      log::warn(kLog, "journal compaction failed (the journal keeps growing): {}",
                st.error().message());
    }
  }
}

Status Executor::startFreshJournalLocked() {
  const std::string& dir = options_.state_dir;
  std::string tmp = journal_file_ + ".tmp";
  ::unlink(tmp.c_str());
  std::vector<JournalRecord> fresh;
  {
    auto w = JournalWriter::open(tmp);
    if (!w) {
      return fail(w.error());
    }
    JournalRecord start;
    start.type = RecordType::kStart;
    start.pid = ::getpid();
    start.time_ns = wallClockNs();
    fresh.push_back(start);
    for (const auto& p : order_) {
      JournalRecord b;
      b.type = RecordType::kBaseline;
      b.time_ns = start.time_ns;
      b.path = p;
      b.old_value = baseline_[p];
      fresh.push_back(std::move(b));
    }
    for (size_t i = 0; i < fresh.size(); ++i) {
      if (auto st = w->append(fresh[i], i + 1 == fresh.size()); !st) {
        return st;
      }
    }
  }
  // The old journal joins the history under a second name before the new one replaces it, so
  // a crash at any point leaves a complete journal.jsonl.
  writer_.reset();
  auto rotated = rotatedJournals(dir);
  bool has_writes = std::any_of(loaded_.begin(), loaded_.end(), [](const JournalRecord& r) {
    return r.type == RecordType::kWrite || r.type == RecordType::kRevision;
  });
  if (has_writes) {
    uint64_t n = rotated.empty() ? 1 : rotated.back().first + 1;
    std::string to = joinPath(dir, "journal." + std::to_string(n) + ".jsonl");
    if (::link(journal_file_.c_str(), to.c_str()) != 0) {
      return failErrno(errno, "keep journal as " + to);
    }
    rotated.emplace_back(n, to);
  }
  if (::rename(tmp.c_str(), journal_file_.c_str()) != 0) {
    return failErrno(errno, "rename " + tmp + " to " + journal_file_);
  }
  fsyncDir(dir);
  while (rotated.size() > options_.keep_journals) {
    ::unlink(rotated.front().second.c_str());
    rotated.erase(rotated.begin());
  }
  auto w = JournalWriter::open(journal_file_);
  if (!w) {
    return fail(w.error().wrap("reopen"));
  }
  writer_.emplace(std::move(*w));
  loaded_ = std::move(fresh);
  return ok();
}

std::optional<uint64_t> Executor::currentRevision() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (revision_open_ && revision_written_) {
    return current_revision_;
  }
  return std::nullopt;
}

Status Executor::ensureRevisionLocked() {
  if (revision_written_) {
    return ok();
  }
  current_revision_ = next_revision_++;
  JournalRecord r;
  r.type = RecordType::kRevision;
  r.revision = current_revision_;
  r.reason = current_reason_;
  if (auto st = appendLocked(r, false); !st) {
    return st;
  }
  revision_written_ = true;
  return ok();
}

void Executor::noteFailureLocked(const std::string& error, bool counts_for_freeze) {
  ++health_.failures;
  health_.last_error = error;
  if (!counts_for_freeze) {
    return;
  }
  ++health_.consecutive_failures;
  if (!health_.frozen && health_.consecutive_failures >= options_.freeze_after_failures) {
    health_.frozen = true;
    health_.reason = fmt::format("{} consecutive cgroup write failures, last: {}",
                                 health_.consecutive_failures, error);
    next_probe_ns_ = now() + options_.freeze_probe_interval_ns;
    log::error(kLog, "frozen: {}", health_.reason);
  }
}

Status Executor::write(const std::string& path, const std::string& value,
                       const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  bool implicit = !revision_open_;
  if (implicit) {
    revision_open_ = true;
    revision_written_ = false;
    current_reason_ = reason;
  }
  Status st = writeLocked(path, value, reason, false);
  if (implicit) {
    revision_open_ = false;
    revision_written_ = false;
  }
  return st;
}

Result<std::string> Executor::readKnobLocked(const std::string& path) {
  auto it = kept_.find(path);
  if (it == kept_.end()) {
    if (kept_.size() >= kMaxKeptFds) {
      kept_.clear();  // the knobs in use reopen on their next read
    }
    it = kept_.try_emplace(path).first;
  } else if (auto r = fs_.readFileKept(path, &it->second)) {
    return r;
  } else {
    it->second.reset();
  }
  auto r = fs_.readFileKept(path, &it->second);
  if (!r) {
    kept_.erase(it);
  }
  return r;
}

void Executor::forgetLocked(const std::string& path) {
  baseline_.erase(path);
  kept_.erase(path);
}

Status Executor::writeLocked(const std::string& path, const std::string& value,
                             const std::string& reason, bool restoring) {
  if (!restoring && health_.frozen) {
    int64_t t = now();
    if (t < next_probe_ns_) {
      return failErrno(ECANCELED, "write " + path + ": executor frozen (" + health_.reason + ")");
    }
    // One probe write per interval: its success thaws the executor.
    next_probe_ns_ = t + options_.freeze_probe_interval_ns;
  }
  auto cur = readKnobLocked(path);
  if (!cur) {
    if (cur.error().code() == ENOENT) {
      ++health_.vanished;
      return fail(cur.error().wrap("write " + path + ": cgroup gone"));
    }
    noteFailureLocked(cur.error().message(), !restoring);
    return fail(cur.error().wrap("write " + path + ": read old value"));
  }
  if (knobMatches(path, value, *cur)) {
    ++health_.unchanged;
    return ok();
  }
  if (!restoring) {
    int64_t t = now();
    double cap = std::max(1.0, options_.max_writes_per_sec);
    tokens_ = std::min(
        cap, tokens_ + static_cast<double>(t - tokens_at_ns_) * 1e-9 * options_.max_writes_per_sec);
    tokens_at_ns_ = t;
    if (tokens_ < 1.0) {
      ++health_.rate_limited;
      return failErrno(EAGAIN, "write " + path + ": rate limit of " +
                                   fmt::format("{}", options_.max_writes_per_sec) +
                                   " writes/s reached");
    }
    tokens_ -= 1.0;
  }
  std::string old = writableForm(path, *cur);

  if (auto st = ensureRevisionLocked(); !st) {
    health_.journal_ok = false;
    noteFailureLocked(st.error().message(), true);
    return fail(st.error().wrap("write " + path));
  }
  JournalRecord intent;
  intent.type = RecordType::kWrite;
  intent.seq = next_seq_++;
  intent.revision = current_revision_;
  intent.path = path;
  intent.old_value = old;
  intent.new_value = value;
  intent.reason = reason;
  if (auto st = appendLocked(intent, true); !st) {
    // Without a durable record of the old value, a crash could leave the knob changed forever.
    health_.journal_ok = false;
    if (!health_.frozen) {
      health_.frozen = true;
      health_.reason = "journal not writable: " + st.error().message();
      next_probe_ns_ = now() + options_.freeze_probe_interval_ns;
    }
    noteFailureLocked(st.error().message(), true);
    return fail(st.error().wrap("write " + path + ": journal"));
  }
  health_.journal_ok = true;
  if (!restoring && baseline_.emplace(path, old).second) {
    order_.push_back(path);
  }

  auto finish_failed = [&](const Error& err, bool counts) -> Status {
    // Put the old value back if the knob moved at all.
    auto now_val = fs_.readFile(path);
    if (now_val && !knobMatches(path, old, *now_val)) {
      if (fs_.writeFile(path, old.empty() ? "\n" : old)) {
        ++health_.rollbacks;
      }
    }
    JournalRecord failed;
    failed.type = RecordType::kFailed;
    failed.seq = intent.seq;
    failed.error = err.message();
    (void)appendLocked(failed, false);
    if (err.code() == ENOENT) {
      ++health_.vanished;
    } else {
      noteFailureLocked(err.message(), counts);
    }
    return fail(err);
  };

  if (auto st = fs_.writeFile(path, value.empty() ? "\n" : value); !st) {
    return finish_failed(st.error(), !restoring);
  }
  auto got = readKnobLocked(path);
  if (!got) {
    return finish_failed(got.error().wrap("verify " + path), !restoring);
  }
  if (!knobMatches(path, value, *got)) {
    std::string g = writableForm(path, *got);
    return finish_failed(
        Error(EIO, "verify " + path + ": wrote \"" + value + "\", read back \"" + g + "\""),
        !restoring);
  }
  JournalRecord done;
  done.type = RecordType::kDone;
  done.seq = intent.seq;
  (void)appendLocked(done, false);
  ++health_.writes;
  health_.consecutive_failures = 0;
  if (health_.frozen && health_.journal_ok) {
    log::info(kLog, "thawed: write to {} succeeded", path);
    health_.frozen = false;
    health_.reason.clear();
  }
  return ok();
}

RestoreReport Executor::restoreLocked(const std::vector<std::string>& order,
                                      const std::string& reason) {
  RestoreReport report;
  bool was_open = revision_open_;
  bool was_written = revision_written_;
  std::string was_reason = current_reason_;
  revision_open_ = true;
  revision_written_ = false;
  current_reason_ = reason;
  // cgroup v1 wants every cpuset inside its parent's: first widen each cpuset that must grow
  // to (current | old), parents first; restore the other knobs in the order given; then set
  // the cpusets to their old values, children first.
  auto depth = [](const std::string& p) { return std::count(p.begin(), p.end(), '/'); };
  std::vector<std::string> cpusets;
  std::vector<std::string> pending;
  std::set<std::string> widened;
  std::vector<std::string> inherit;  // populated v2 cpusets that were empty before colo
  for (const auto& p : order) {
    if (baseline_.count(p) == 0) {
      continue;
    }
    (p.ends_with("/cpuset.cpus") ? cpusets : pending).push_back(p);
  }
  std::stable_sort(cpusets.begin(), cpusets.end(),
                   [&](const std::string& a, const std::string& b) { return depth(a) < depth(b); });
  for (const auto& p : cpusets) {
    auto cur = fs_.readFile(p);
    std::set<int> have;
    std::set<int> want;
    if (!cur || !parseCpuList(*cur, &have) || !parseCpuList(baseline_[p], &want)) {
      continue;
    }
    std::set<int> both = have;
    both.insert(want.begin(), want.end());
    if (both != have && writeLocked(p, formatCpuList(both), reason, true)) {
      widened.insert(p);
    }
  }
  std::reverse(cpusets.begin(), cpusets.end());
  pending.insert(pending.end(), cpusets.begin(), cpusets.end());
  // Two passes: an order that fails once (EINVAL/EBUSY) often succeeds once the other knobs
  // are back.
  std::map<std::string, std::string> last_error;
  for (int pass = 0; pass < 2 && !pending.empty(); ++pass) {
    std::vector<std::string> again;
    for (const auto& path : pending) {
      auto it = baseline_.find(path);
      if (it == baseline_.end()) {
        continue;
      }
      std::string old = it->second;
      auto cur = fs_.readFile(path);
      if (!cur && cur.error().code() == ENOENT) {
        ++report.vanished;
        ++health_.vanished;
        forgetLocked(path);
        continue;
      }
      if (cur && knobMatches(path, old, *cur)) {
        ++(widened.count(path) != 0 ? report.restored : report.already);
        forgetLocked(path);
        continue;
      }
      Status st = writeLocked(path, old, reason, true);
      if (!st && st.error().code() == ENOSPC && old.empty() && path.ends_with("/cpuset.cpus")) {
        // cgroup v2 left this cpuset empty (inherit the parent's), but the kernel refuses to
        // empty the cpuset of a cgroup that has tasks: once the parents are back, it gets the
        // parent's effective cpus, which places its tasks the same way.
        inherit.push_back(path);
        continue;
      }
      if (st) {
        ++report.restored;
        forgetLocked(path);
      } else if (st.error().code() == ENOENT) {
        ++report.vanished;
        forgetLocked(path);
      } else {
        last_error[path] = st.error().message();
        again.push_back(path);
      }
    }
    pending = std::move(again);
  }
  for (const auto& p : pending) {
    report.errors.push_back(last_error[p]);
  }
  std::stable_sort(inherit.begin(), inherit.end(),
                   [&](const std::string& a, const std::string& b) { return depth(a) < depth(b); });
  for (const auto& path : inherit) {
    std::string dir = path.substr(0, path.rfind('/'));
    std::string parent = dir.substr(0, dir.rfind('/'));
    auto eff = fs_.readFile(joinPath(parent, "cpuset.cpus.effective"));
    std::string cpus = eff ? writableForm(path, *eff) : "";
    Status st = cpus.empty() ? failErrno(ENOSPC, "no parent cpus for " + path)
                             : writeLocked(path, cpus, reason, true);
    if (st) {
      ++report.restored;
      report.notes.push_back(path + ": restored as the parent's cpus " + cpus +
                             " (the kernel refuses an empty cpuset on a populated cgroup)");
      forgetLocked(path);
    } else if (st.error().code() == ENOENT) {
      ++report.vanished;
      forgetLocked(path);
    } else {
      report.errors.push_back(st.error().message());
    }
  }
  order_.erase(std::remove_if(order_.begin(), order_.end(),
                              [&](const std::string& p) { return baseline_.count(p) == 0; }),
               order_.end());
  revision_open_ = was_open;
  revision_written_ = was_written && was_open;
  current_reason_ = was_reason;
  return report;
}

RestoreReport Executor::restorePaths(const std::vector<std::string>& paths,
                                     const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  return restoreLocked(paths, reason);
}

RestoreReport Executor::restoreAll(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> order(order_.rbegin(), order_.rend());
  auto report = restoreLocked(order, reason);
  if (report.ok()) {
    JournalRecord clean;
    clean.type = RecordType::kClean;
    if (auto st = appendLocked(clean, true); !st) {
      report.errors.push_back(st.error().wrap("mark journal clean").message());
    }
  }
  log::info(kLog, "restore all ({}): {} restored, {} already, {} vanished, {} errors", reason,
            report.restored, report.already, report.vanished, report.errors.size());
  return report;
}

Result<RestoreReport> Executor::rollback(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto revs = revisionsOf(loaded_, journal_file_);
  auto it =
      std::find_if(revs.begin(), revs.end(), [&](const RevisionInfo& r) { return r.id == id; });
  if (it == revs.end()) {
    return failErrno(ENOENT, "rollback: no revision " + std::to_string(id) + " in " +
                                 journal_file_ +
                                 " (only the current run's revisions can be "
                                 "rolled back)");
  }
  RestoreReport report;
  bool was_open = revision_open_;
  std::string was_reason = current_reason_;
  revision_open_ = true;
  revision_written_ = false;
  current_reason_ = "rollback of revision " + std::to_string(id) + " (" + it->reason + ")";
  for (auto w = it->writes.rbegin(); w != it->writes.rend(); ++w) {
    if (w->outcome.starts_with("failed")) {
      continue;  // already rolled back when it failed
    }
    auto cur = fs_.readFile(w->path);
    if (!cur && cur.error().code() == ENOENT) {
      ++report.vanished;
      continue;
    }
    if (cur && knobMatches(w->path, w->old_value, *cur)) {
      ++report.already;
      continue;
    }
    if (auto st = writeLocked(w->path, w->old_value, current_reason_, true); st) {
      ++report.restored;
    } else if (st.error().code() == ENOENT) {
      ++report.vanished;
    } else {
      report.errors.push_back(st.error().message());
    }
  }
  revision_open_ = was_open;
  revision_written_ = false;
  current_reason_ = was_reason;
  return report;
}

std::map<std::string, std::string> Executor::baseline() const {
  std::lock_guard<std::mutex> lock(mu_);
  return baseline_;
}

Health Executor::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

bool Executor::writable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !health_.frozen && health_.journal_ok;
}

}  // namespace colo::executor
