// Agent: colod's runtime. Checks the node (cgroups, privileges, BTF), loads the BPF probe,
// discovers containers, serves the local API, and runs ONE epoll loop: a timerfd for the tick,
// the probe's ring-buffer fd for events, a signalfd for SIGTERM/SIGINT.
//
// Threads: the loop runs on the caller's thread and owns the collector and the probe. The HTTP
// server's worker thread reads only the SnapshotStore (a mutex-guarded shared_ptr<const Snapshot>
// swapped after each tick).
#pragma once

#include <memory>

#include "agent/config.h"
#include "common/result.h"

namespace colo::agent {

class Agent {
 public:
  // Sets everything up (without starting the loop). Errors say what is wrong and how to fix it.
  static Result<std::unique_ptr<Agent>> create(const AgentConfig& config);
  ~Agent();

  // Runs until SIGTERM or SIGINT. Blocks those signals in the calling thread first: call it from
  // the main thread before any other thread exists (the HTTP workers start here and inherit the
  // mask). Returns ok on a clean shutdown.
  Status run();

 private:
  struct Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace colo::agent
