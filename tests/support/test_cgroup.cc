#include "support/test_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <thread>

#include "common/fs.h"

namespace colo::test {
namespace {

Status writeStr(const std::string& path, const std::string& value) {
  RealFs fs;
  return fs.writeFile(path, value);
}

// Directories under `dir`, deepest first, then `dir` itself.
void collectDirs(const std::string& dir, std::vector<std::string>* out) {
  RealFs fs;
  if (auto subs = fs.listDirs(dir)) {
    for (const auto& s : *subs) {
      collectDirs(joinPath(dir, s), out);
    }
  }
  out->push_back(dir);
}

void killProcsIn(const std::string& dir) {
  RealFs fs;
  auto procs = fs.readFile(joinPath(dir, "cgroup.procs"));
  if (!procs) {
    return;
  }
  size_t pos = 0;
  while (pos < procs->size()) {
    size_t end = procs->find('\n', pos);
    if (end == std::string::npos) {
      end = procs->size();
    }
    pid_t pid = static_cast<pid_t>(std::atoi(procs->substr(pos, end - pos).c_str()));
    if (pid > 0) {
      ::kill(pid, SIGKILL);
    }
    pos = end + 1;
  }
}

}  // namespace

Result<TestCgroupTree> TestCgroupTree::create(const std::string& name,
                                              std::vector<std::string> controllers) {
  auto mounts = detectCgroupMounts();
  if (!mounts) {
    return fail(mounts.error());
  }
  TestCgroupTree tree;
  tree.mounts_ = *mounts;
  tree.version_ = *mounts->cpuVersion();
  tree.controllers_ = controllers;
  tree.top_ = "colo-test-" + name + "-" + std::to_string(::getpid());
  if (tree.version_ == CgroupVersion::kV2) {
    std::string root = joinPath(mounts->unified, tree.top_);
    if (::mkdir(root.c_str(), 0755) != 0 && errno != EEXIST) {
      return failErrno(errno, "mkdir " + root);
    }
    tree.roots_.push_back(root);
    tree.live_ = true;
    std::string& enable = tree.v2_enable_;
    for (const auto& c : controllers) {
      if (c != "cpuacct") {
        enable += (enable.empty() ? "+" : " +") + c;
      }
    }
    if (!enable.empty()) {
      if (auto st = writeStr(joinPath(root, "cgroup.subtree_control"), enable); !st) {
        return fail(st.error().wrap("enable controllers " + enable));
      }
    }
  } else {
    for (const auto& c : controllers) {
      auto mount = mounts->mountFor(c);
      if (!mount) {
        return failErrno(ENOENT, "no cgroup v1 mount carries " + c);
      }
      std::string root = joinPath(*mount, tree.top_);
      if (std::find(tree.roots_.begin(), tree.roots_.end(), root) != tree.roots_.end()) {
        continue;
      }
      if (::mkdir(root.c_str(), 0755) != 0 && errno != EEXIST) {
        return failErrno(errno, "mkdir " + root);
      }
      tree.roots_.push_back(root);
      tree.live_ = true;
      if (c == "cpuset") {
        RealFs fs;
        for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
          auto v = fs.readFile(joinPath(*mount, f));
          if (v) {
            (void)writeStr(joinPath(root, f), *v);
          }
        }
      }
    }
  }
  return tree;
}

TestCgroupTree::TestCgroupTree(TestCgroupTree&& other) noexcept
    : mounts_(std::move(other.mounts_)),
      version_(other.version_),
      top_(std::move(other.top_)),
      roots_(std::move(other.roots_)),
      controllers_(std::move(other.controllers_)),
      v2_enable_(std::move(other.v2_enable_)),
      children_(std::move(other.children_)),
      live_(std::exchange(other.live_, false)) {}

TestCgroupTree::~TestCgroupTree() { destroy(); }

std::string TestCgroupTree::path(const std::string& controller, const std::string& rel) const {
  std::string base;
  if (version_ == CgroupVersion::kV2) {
    base = joinPath(mounts_.unified, top_);
  } else {
    base = joinPath(mounts_.mountFor(controller).value_or("/nonexistent"), top_);
  }
  return rel.empty() ? base : joinPath(base, rel);
}

Status TestCgroupTree::mkdir(const std::string& relative) {
  for (const auto& root : roots_) {
    std::string p = root;
    size_t pos = 0;
    while (pos <= relative.size()) {
      size_t end = relative.find('/', pos);
      if (end == std::string::npos) {
        end = relative.size();
      }
      if (end > pos) {
        // v2: the tree's controllers reach a nested cgroup only when every parent enables them
        // for its children (the top already does). A parent that holds processes cannot; its
        // children then go without, as the kernel has it.
        if (version_ == CgroupVersion::kV2 && p != root && !v2_enable_.empty()) {
          if (auto st = writeStr(joinPath(p, "cgroup.subtree_control"), v2_enable_);
              !st && st.error().code() != EBUSY) {
            return fail(st.error().wrap("enable controllers in " + p));
          }
        }
        p = joinPath(p, relative.substr(pos, end - pos));
        if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) {
          return failErrno(errno, "mkdir " + p);
        }
        if (version_ == CgroupVersion::kV1 && p.find("/cpuset/") != std::string::npos) {
          RealFs fs;
          std::string parent = p.substr(0, p.rfind('/'));
          for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
            if (auto v = fs.readFile(joinPath(parent, f))) {
              (void)writeStr(joinPath(p, f), *v);
            }
          }
        }
      }
      pos = end + 1;
    }
  }
  return ok();
}

Status TestCgroupTree::rmdir(const std::string& relative) {
  for (const auto& root : roots_) {
    std::string p = joinPath(root, relative);
    if (::rmdir(p.c_str()) != 0 && errno != ENOENT) {
      return failErrno(errno, "rmdir " + p);
    }
  }
  return ok();
}

Status TestCgroupTree::addPid(const std::string& relative, pid_t pid) {
  for (const auto& root : roots_) {
    std::string procs =
        joinPath(relative.empty() ? root : joinPath(root, relative), "cgroup.procs");
    if (auto st = writeStr(procs, std::to_string(pid)); !st) {
      return st;
    }
  }
  return ok();
}

Result<pid_t> TestCgroupTree::spawn(const std::string& relative,
                                    const std::vector<std::string>& argv, int cpu) {
  int sync_pipe[2];
  if (::pipe2(sync_pipe, O_CLOEXEC) != 0) {
    return failErrno(errno, "pipe2");
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    return failErrno(errno, "fork");
  }
  if (pid == 0) {
    ::close(sync_pipe[1]);
    char go = 0;
    // Wait until the parent has placed us in the cgroup, so exec runs inside it.
    if (::read(sync_pipe[0], &go, 1) != 1) {
      ::_exit(126);
    }
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      ::sched_setaffinity(0, sizeof(set), &set);
    }
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(sync_pipe[0]);
  children_.push_back(pid);
  Status st = addPid(relative, pid);
  char go = 1;
  if (!st) {
    ::close(sync_pipe[1]);
    kill(pid);
    return fail(st.error().wrap("spawn " + argv[0]));
  }
  (void)!::write(sync_pipe[1], &go, 1);
  ::close(sync_pipe[1]);
  return pid;
}

void TestCgroupTree::kill(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
}

void TestCgroupTree::destroy() {
  for (pid_t pid : std::vector<pid_t>(children_)) {
    kill(pid);
  }
  if (!live_) {
    return;
  }
  live_ = false;
  for (const auto& root : roots_) {
    std::vector<std::string> dirs;
    collectDirs(root, &dirs);
    for (const auto& d : dirs) {
      killProcsIn(d);
      // A killed task leaves its cgroup asynchronously: retry EBUSY for up to 5 s.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (::rmdir(d.c_str()) != 0 && errno == EBUSY &&
             std::chrono::steady_clock::now() < deadline) {
        killProcsIn(d);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
}

}  // namespace colo::test
