#include "agent/executor/journal.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"

namespace colo::executor {
namespace {

struct TypeName {
  RecordType type;
  std::string_view name;
};
constexpr TypeName kTypeNames[] = {
    {RecordType::kStart, "start"},   {RecordType::kRevision, "rev"},
    {RecordType::kWrite, "write"},   {RecordType::kDone, "done"},
    {RecordType::kFailed, "failed"}, {RecordType::kBaseline, "baseline"},
    {RecordType::kClean, "clean"},
};

}  // namespace

std::string_view recordTypeName(RecordType type) {
  for (const auto& t : kTypeNames) {
    if (t.type == type) {
      return t.name;
    }
  }
  return "?";
}

int64_t wallClockNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string encodeRecord(const JournalRecord& r) {
  nlohmann::json j;
  j["t"] = recordTypeName(r.type);
  j["time"] = r.time_ns;
  switch (r.type) {
    case RecordType::kStart:
      j["pid"] = r.pid;
      break;
    case RecordType::kRevision:
      j["rev"] = r.revision;
      j["reason"] = r.reason;
      break;
    case RecordType::kWrite:
      j["seq"] = r.seq;
      j["rev"] = r.revision;
      j["path"] = r.path;
      j["old"] = r.old_value;
      j["new"] = r.new_value;
      j["reason"] = r.reason;
      break;
    case RecordType::kDone:
      j["seq"] = r.seq;
      break;
    case RecordType::kFailed:
      j["seq"] = r.seq;
      j["error"] = r.error;
      break;
    case RecordType::kBaseline:
      j["path"] = r.path;
      j["old"] = r.old_value;
      break;
    case RecordType::kClean:
      break;
  }
  // Paths and values come from cgroupfs and may hold any byte: replace invalid UTF-8 rather
  // than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<JournalRecord> decodeRecord(std::string_view line) {
  try {
    auto j = nlohmann::json::parse(line);
    JournalRecord r;
    std::string t = j.at("t").get<std::string>();
    bool known = false;
    for (const auto& tn : kTypeNames) {
      if (tn.name == t) {
        r.type = tn.type;
        known = true;
      }
    }
    if (!known) {
      return failInvalid("unknown journal record type \"" + t + "\"");
    }
    r.time_ns = j.value("time", int64_t{0});
    r.seq = j.value("seq", uint64_t{0});
    r.revision = j.value("rev", uint64_t{0});
    r.pid = j.value("pid", int64_t{0});
    r.path = j.value("path", std::string());
    r.old_value = j.value("old", std::string());
    r.new_value = j.value("new", std::string());
    r.reason = j.value("reason", std::string());
    r.error = j.value("error", std::string());
    if ((r.type == RecordType::kWrite || r.type == RecordType::kBaseline) && r.path.empty()) {
      return failInvalid("journal record without a path");
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return failInvalid(std::string("bad journal line: ") + e.what());
  }
}

Result<std::vector<JournalRecord>> readJournal(const std::string& file, size_t* skipped) {
  RealFs fs;
  auto text = fs.readFile(file);
  if (!text) {
    return fail(text.error());
  }
  std::vector<JournalRecord> out;
  size_t pos = 0;
  if (skipped != nullptr) {
    *skipped = 0;
  }
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    bool last = end == std::string::npos;
    if (last) {
      end = text->size();
    }
    std::string_view line(text->data() + pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      continue;
    }
    auto rec = decodeRecord(line);
    if (!rec) {
      // A line without its newline was cut by a crash mid-append: the write it announced never
      // started, so dropping it is safe.
      if (!last && skipped != nullptr) {
        ++*skipped;
      }
      continue;
    }
    out.push_back(std::move(*rec));
  }
  return out;
}

Result<JournalWriter> JournalWriter::open(const std::string& file) {
  JournalWriter w;
  w.file_ = file;
  w.fd_.reset(::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!w.fd_.valid()) {
    return failErrno(errno, "open journal " + file);
  }
  // A file that ends without a newline was cut mid-append by a crash: that record was never
  // synced, so the write it announced never started. Cut it off.
  off_t size = ::lseek(w.fd_.get(), 0, SEEK_END);
  if (size > 0) {
    UniqueFd rd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    char c = '\n';
    if (rd.valid() && ::pread(rd.get(), &c, 1, size - 1) == 1 && c != '\n') {
      off_t keep = size - 1;
      while (keep > 0 && ::pread(rd.get(), &c, 1, keep - 1) == 1 && c != '\n') {
        --keep;
      }
      if (::ftruncate(w.fd_.get(), keep) != 0) {
        return failErrno(errno, "truncate torn journal tail " + file);
      }
    }
  }
  fsyncDir(dirOf(file));
  return w;
}

Status JournalWriter::append(const JournalRecord& record, bool sync) {
  std::string line = encodeRecord(record);
  line += '\n';
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_.get(), line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failErrno(errno, "append to journal " + file_);
    }
    off += static_cast<size_t>(n);
  }
  if (sync && ::fdatasync(fd_.get()) != 0) {
    return failErrno(errno, "fdatasync journal " + file_);
  }
  return ok();
}

}  // namespace colo::executor
