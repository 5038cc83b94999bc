// FileSystem: the slice of the kernel file surface colo reads and writes (cgroupfs, /proc).
// RealFs talks to the kernel; FakeFs is an in-memory tree for unit tests. All paths are absolute.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace colo {

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Whole file contents. ENOENT when the file (or its cgroup) is gone: callers treat that as
  // normal.
  virtual Result<std::string> readFile(const std::string& path) const = 0;
  // readFile for a file read every tick: RealFs keeps it open in *cache and re-reads it with
  // pread(2) from offset 0 (kernfs/procfs seq files regenerate there), saving the path walk and
  // open/close; a failed read closes it so the next call reopens. ENODEV/ENOENT when a cgroup's
  // open file outlives its cgroup. Other file systems just read the file.
  virtual Result<std::string> readFileKept(const std::string& path, UniqueFd* cache) const {
    (void)cache;
    return readFile(path);
  }
  // readFileKept into *out, reusing its storage: no allocation per call once *out has grown to
  // the file's size (an allocation per read of a >1 KiB proc file every tick made malloc
  // consolidate its free lists each time: ~7 % of colod's CPU, measured).
  virtual Status readFileKeptInto(const std::string& path, UniqueFd* cache,
                                  std::string* out) const {
    auto r = readFileKept(path, cache);
    if (!r) {
      return fail(r.error());
    }
    out->assign(*r);
    return ok();
  }
  // readFileKeptInto for a cgroup file the kernel formats in one piece (one seq_file record:
  // cpu.stat, memory.stat, memory.current, cpu.pressure; not record-by-record listings such as
  // cgroup.procs): a pread(2) that does not fill the buffer returned the whole file, so the
  // second pread that would only find its end is skipped (half the cost of a small file). RealFs
  // only; other file systems just read the file.
  virtual Status readCgroupFileKeptInto(const std::string& path, UniqueFd* cache,
                                        std::string* out) const {
    return readFileKeptInto(path, cache, out);
  }
  // Writes `data` in one write(2) call, as cgroupfs requires.
  virtual Status writeFile(const std::string& path, std::string_view data) = 0;
  // Names of the subdirectories of `path`, sorted.
  virtual Result<std::vector<std::string>> listDirs(const std::string& path) const = 0;
  // Inode number of `path` (on cgroupfs the cgroup id, as the kernel's kernfs node id).
  virtual Result<uint64_t> inode(const std::string& path) const = 0;
  virtual bool exists(const std::string& path) const = 0;
};

class RealFs final : public FileSystem {
 public:
  Result<std::string> readFile(const std::string& path) const override;
  Result<std::string> readFileKept(const std::string& path, UniqueFd* cache) const override;
  Status readFileKeptInto(const std::string& path, UniqueFd* cache,
                          std::string* out) const override;
  Status readCgroupFileKeptInto(const std::string& path, UniqueFd* cache,
                                std::string* out) const override;
  Status writeFile(const std::string& path, std::string_view data) override;
  Result<std::vector<std::string>> listDirs(const std::string& path) const override;
  Result<uint64_t> inode(const std::string& path) const override;
  bool exists(const std::string& path) const override;
};

// FakeFs: directories and files in memory. Inodes are assigned in creation order from 1000.
// Thread-safe. Writes may be made to fail per path to test error handling.
class FakeFs final : public FileSystem {
 public:
  // Creates `path` and all its parents.
  void mkdirs(const std::string& path);
  // Creates the file (and its parent directories) with `data`.
  void put(const std::string& path, std::string_view data);
  // Removes a directory with everything under it, or a file.
  void remove(const std::string& path);
  // Every later write to `path` fails with `err` (0 clears).
  void failWrites(const std::string& path, int err);
  // Every later read of `path` fails with `err` (0 clears).
  void failReads(const std::string& path, int err);

  Result<std::string> readFile(const std::string& path) const override;
  Status writeFile(const std::string& path, std::string_view data) override;
  Result<std::vector<std::string>> listDirs(const std::string& path) const override;
  Result<uint64_t> inode(const std::string& path) const override;
  bool exists(const std::string& path) const override;

 private:
  void mkdirsLocked(const std::string& path);

  mutable std::mutex mu_;
  std::map<std::string, uint64_t> dirs_;  // path -> inode
  std::map<std::string, std::string> files_;
  std::map<std::string, int> write_errors_;
  std::map<std::string, int> read_errors_;
  uint64_t next_inode_ = 1000;
};

// Joins two path parts with exactly one '/'.
std::string joinPath(std::string_view a, std::string_view b);

// The directory part of a file path: "." without a slash, "/" for a file at the root.
std::string dirOf(const std::string& file);
// fsync(2) of a directory, so that a rename or a new file in it survives a crash. Best effort.
void fsyncDir(const std::string& dir);
// Replaces `path` with `data` so that a crash leaves the old file or the new one, never a torn
// one: write `path`.tmp, fsync, rename over `path`, fsync the directory. On the real file system
// (state files, not cgroupfs).
Status writeFileDurably(const std::string& path, std::string_view data);

}  // namespace colo
