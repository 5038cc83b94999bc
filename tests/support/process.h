// Subprocesses and polling for privileged tests that drive the real binaries (colod, coloctl).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <chrono>
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

}  // namespace colo::test
