#include "common/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/unique_fd.h"

namespace colo {

std::string joinPath(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!out.empty() && out.back() == '/') {
    out.pop_back();
  }
  while (!b.empty() && b.front() == '/') {
    b.remove_prefix(1);
  }
  out += '/';
  out += b;
  return out;
}

Result<std::string> RealFs::readFile(const std::string& path) const {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return failErrno(errno, "open " + path);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failErrno(errno, "read " + path);
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> RealFs::readFileKept(const std::string& path, UniqueFd* cache) const {
  std::string out;
  if (auto st = readFileKeptInto(path, cache, &out); !st) {
    return fail(st.error());
  }
  return out;
}

namespace {

// readFileKeptInto, and with `one_record` readCgroupFileKeptInto: a short read is the end.
Status readKept(const RealFs& fs, const std::string& path, UniqueFd* cache, std::string* out,
                bool one_record) {
  if (!cache->valid()) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: still correct, only slower.
        auto r = fs.readFile(path);
        if (!r) {
          return fail(r.error());
        }
        out->assign(*r);
        return ok();
      }
      return failErrno(errno, "open " + path);
    }
    cache->reset(fd);
  }
  size_t len = 0;
  for (;;) {
    // Read into the string's own storage; grow it only when a read could not fit.
    size_t want = std::max<size_t>(out->capacity(), 4096);
    if (want - len < 512) {
      want *= 2;
    }
    ssize_t n = 0;
    int err = 0;
    out->resize_and_overwrite(want, [&](char* p, size_t cap) {
      n = ::pread(cache->get(), p + len, cap - len, static_cast<off_t>(len));
      if (n < 0) {
        err = errno;
        return len;
      }
      return len + static_cast<size_t>(n);
    });
    if (n < 0) {
      if (err == EINTR) {
        continue;
      }
      cache->reset();
      return failErrno(err, "read " + path);
    }
    if (n == 0) {
      return ok();
    }
    len += static_cast<size_t>(n);
    if (one_record && len < want) {
      // A seq_file hands out the whole record when the buffer holds it: this is all.
      return ok();
    }
  }
}

}  // namespace

Status RealFs::readFileKeptInto(const std::string& path, UniqueFd* cache, std::string* out) const {
  return readKept(*this, path, cache, out, /*one_record=*/false);
}

Status RealFs::readCgroupFileKeptInto(const std::string& path, UniqueFd* cache,
                                      std::string* out) const {
  return readKept(*this, path, cache, out, /*one_record=*/true);
}

Status RealFs::writeFile(const std::string& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return failErrno(errno, "open " + path);
  }
  ssize_t n;
  do {
    n = ::write(fd.get(), data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return failErrno(errno, "write " + path);
  }
  if (static_cast<size_t>(n) != data.size()) {
    return failErrno(EIO, "short write " + path);
  }
  return ok();
}

Result<std::vector<std::string>> RealFs::listDirs(const std::string& path) const {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    return failErrno(errno, "opendir " + path);
  }
  std::vector<std::string> out;
  while (dirent* ent = ::readdir(dir)) {
    if (ent->d_type != DT_DIR) {
      continue;
    }
    std::string_view name(ent->d_name);
    if (name == "." || name == "..") {
      continue;
    }
    out.emplace_back(name);
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

Result<uint64_t> RealFs::inode(const std::string& path) const {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return failErrno(errno, "stat " + path);
  }
  return static_cast<uint64_t>(st.st_ino);
}

bool RealFs::exists(const std::string& path) const { return ::access(path.c_str(), F_OK) == 0; }

namespace {

std::string parentOf(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos || pos == 0) {
    return "/";
  }
  return path.substr(0, pos);
}

std::string normalize(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

}  // namespace

void FakeFs::mkdirsLocked(const std::string& raw) {
  std::string path = normalize(raw);
  if (dirs_.count(path) != 0) {
    return;
  }
  if (path != "/") {
    mkdirsLocked(parentOf(path));
  }
  dirs_[path] = next_inode_++;
}

void FakeFs::mkdirs(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  mkdirsLocked(path);
}

void FakeFs::put(const std::string& path, std::string_view data) {
  std::lock_guard<std::mutex> lock(mu_);
  mkdirsLocked(parentOf(path));
  files_[normalize(path)] = std::string(data);
}

void FakeFs::remove(const std::string& raw) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = normalize(raw);
  std::string prefix = path + "/";
  files_.erase(path);
  dirs_.erase(path);
  for (auto it = files_.lower_bound(prefix); it != files_.end() && it->first.starts_with(prefix);) {
    it = files_.erase(it);
  }
  for (auto it = dirs_.lower_bound(prefix); it != dirs_.end() && it->first.starts_with(prefix);) {
    it = dirs_.erase(it);
  }
}

void FakeFs::failWrites(const std::string& path, int err) {
  std::lock_guard<std::mutex> lock(mu_);
  if (err == 0) {
    write_errors_.erase(normalize(path));
  } else {
    write_errors_[normalize(path)] = err;
  }
}

void FakeFs::failReads(const std::string& path, int err) {
  std::lock_guard<std::mutex> lock(mu_);
  if (err == 0) {
    read_errors_.erase(normalize(path));
  } else {
    read_errors_[normalize(path)] = err;
  }
}

Result<std::string> FakeFs::readFile(const std::string& raw) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = normalize(raw);
  if (auto err = read_errors_.find(path); err != read_errors_.end()) {
    return failErrno(err->second, "read " + path);
  }
  auto it = files_.find(path);
  if (it == files_.end()) {
    return failErrno(ENOENT, "open " + path);
  }
  return it->second;
}

Status FakeFs::writeFile(const std::string& raw, std::string_view data) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = normalize(raw);
  if (auto err = write_errors_.find(path); err != write_errors_.end()) {
    return failErrno(err->second, "write " + path);
  }
  auto it = files_.find(path);
  if (it == files_.end()) {
    return failErrno(ENOENT, "open " + path);
  }
  std::string value(data);
  while (!value.empty() && value.back() == '\n') {
    value.pop_back();
  }
  it->second = value + "\n";
  return ok();
}

Result<std::vector<std::string>> FakeFs::listDirs(const std::string& raw) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = normalize(raw);
  if (dirs_.count(path) == 0) {
    return failErrno(ENOENT, "opendir " + path);
  }
  std::string prefix = path == "/" ? "/" : path + "/";
  std::vector<std::string> out;
  for (auto it = dirs_.lower_bound(prefix); it != dirs_.end() && it->first.starts_with(prefix);
       ++it) {
    std::string_view rest(it->first);
    rest.remove_prefix(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string_view::npos) {
      out.emplace_back(rest);
    }
  }
  return out;
}

Result<uint64_t> FakeFs::inode(const std::string& raw) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dirs_.find(normalize(raw));
  if (it == dirs_.end()) {
    return failErrno(ENOENT, "stat " + raw);
  }
  return it->second;
}

bool FakeFs::exists(const std::string& raw) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = normalize(raw);
  return dirs_.count(path) != 0 || files_.count(path) != 0;
}

std::string dirOf(const std::string& file) {
  auto pos = file.rfind('/');
  return pos == std::string::npos ? "." : (pos == 0 ? "/" : file.substr(0, pos));
}

void fsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.valid()) {
    ::fsync(fd.get());
  }
}

Status writeFileDurably(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return failErrno(errno, "open " + tmp);
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failErrno(errno, "write " + tmp);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd.get()) != 0) {
    return failErrno(errno, "fsync " + tmp);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return failErrno(errno, "rename " + tmp + " to " + path);
  }
  fsyncDir(dirOf(path));
  return ok();
}

}  // namespace colo
