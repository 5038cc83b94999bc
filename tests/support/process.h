// Subprocesses and polling for privileged tests that drive the real binaries (colod, coloctl).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace colo::test {

// Polls `cond` every 50 ms until it holds or `limit` passes; returns its last value.
template <typename F>
bool pollUntil(F&& cond, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

// Starts `binary args...` with stdout and stderr going to `log_path` (truncated, or appended
// when `append`). Returns the pid, or -1 when it could not be started.
inline pid_t spawnLogged(const std::string& binary, const std::vector<std::string>& args,
                         const std::string& log_path, bool append = false) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  if (::posix_spawn(&pid, binary.c_str(), &fa, nullptr, cargv.data(), environ) != 0) {
    pid = -1;
  }
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// A child started with spawnLogged and reaped by its owner. The destructor stops one still
// running: kKill at once, or kTermThenKill (SIGTERM, up to 20 s to exit, then SIGKILL) for a
// process that must get the chance to clean up (colod restores its knobs on SIGTERM).
class Child {
 public:
  enum class Stop { kKill, kTermThenKill };
  Child(const std::string& binary, const std::vector<std::string>& args,
        const std::string& log_path, Stop stop, bool append_log = false)
      : stop_(stop) {
    pid_ = spawnLogged(binary, args, log_path, append_log);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ <= 0 || exited_) {
      return;
    }
    if (stop_ == Stop::kTermThenKill) {
      ::kill(pid_, SIGTERM);
      if (waitExit(std::chrono::seconds(20))) {
        return;
      }
    }
    killHard();
  }
  pid_t pid() const { return pid_; }
  bool running() {
    if (exited_) {
      return false;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      status_ = status;
      return false;
    }
    return true;
  }
  // Waits up to `limit` for the process to exit; its wait status, or nullopt.
  std::optional<int> waitExit(std::chrono::milliseconds limit) {
    pollUntil([&] { return !running(); }, limit);
    if (!exited_) {
      return std::nullopt;
    }
    return status_;
  }
  void killHard() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    exited_ = true;
  }

 private:
  Stop stop_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

}  // namespace colo::test
