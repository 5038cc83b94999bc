// The executor's journal: one JSON object per line, append-only, in <state_dir>/journal.jsonl.
// A write's intent (path, old value, new value, reason, revision) is fsync'd before the cgroup
// file is touched, so after a crash the journal says what to restore. A run that shut down
// cleanly ends with a "clean" record; rotated journals (journal.<n>.jsonl) keep the history that
// `coloctl revisions` shows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace colo::executor {

enum class RecordType {
  kStart,     // a run opened this journal (pid)
  kRevision,  // a revision begins: id, reason
  kWrite,     // intent: path, old -> new, before the write
  kDone,      // the write with `seq` took effect and was verified
  kFailed,    // the write with `seq` failed or did not verify, and was rolled back (error)
  kBaseline,  // carried over from an earlier run: `path` must still be restored to `old`
  kClean,     // every knob was restored; nothing to reconcile
};

struct JournalRecord {
  RecordType type = RecordType::kWrite;
  uint64_t seq = 0;       // kWrite/kDone/kFailed: write sequence number within the journal
  uint64_t revision = 0;  // kRevision/kWrite: revision id (unique across runs)
  int64_t time_ns = 0;    // CLOCK_REALTIME, nanoseconds
  int64_t pid = 0;        // kStart
  std::string path;       // kWrite/kBaseline: absolute path of the knob
  std::string old_value;  // kWrite/kBaseline: value before the write (writable form)
  std::string new_value;  // kWrite
  std::string reason;     // kRevision/kWrite
  std::string error;      // kFailed
};

std::string_view recordTypeName(RecordType type);
// One line of JSON, without the trailing newline.
std::string encodeRecord(const JournalRecord& record);
Result<JournalRecord> decodeRecord(std::string_view line);

// Reads every record of a journal file. A torn last line (a crash mid-append) is ignored; a
// malformed line elsewhere (disk corruption) is skipped and counted in `*skipped`, so that what
// can still be restored is. ENOENT when the file does not exist.
Result<std::vector<JournalRecord>> readJournal(const std::string& file, size_t* skipped = nullptr);

// Appends records to a journal file. Not thread-safe.
class JournalWriter {
 public:
  // Opens (creating if needed) `file` for appending and fsyncs its directory.
  static Result<JournalWriter> open(const std::string& file);
  // Appends one record; with `sync`, fdatasync()s before returning.
  Status append(const JournalRecord& record, bool sync);
  const std::string& file() const { return file_; }

 private:
  UniqueFd fd_;
  std::string file_;
};

// CLOCK_REALTIME now, in nanoseconds.
int64_t wallClockNs();

}  // namespace colo::executor
