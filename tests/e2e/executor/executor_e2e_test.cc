// The executor on real cgroups (root): a SIGKILLed agent leaves nothing behind once restarted,
// SIGTERM restores everything, and failing cgroupfs writes freeze the executor.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "agent/executor/executor.h"
#include "common/fs.h"
#include "e2e/executor/crash_plan.h"
#include "support/privileged.h"
#include "support/test_cgroup.h"

namespace colo::test {
namespace {

using Clock = std::chrono::steady_clock;

const char* const kKnobFiles[] = {"cpu.idle",
                                  "cpu.shares",
                                  "cpu.cfs_quota_us",
                                  "cpu.cfs_period_us",
                                  "cpu.cfs_burst_us",
                                  "cpuset.cpus",
                                  "memory.soft_limit_in_bytes",
                                  "cpu.max",
                                  "cpu.max.burst",
                                  "cpu.weight",
                                  "memory.high",
                                  "cpuset.cpus.partition",
                                  "cpu.bvt_warp_ns"};

// Every knob file under the tree's directories, with its content.
std::map<std::string, std::string> snapshot(const TestCgroupTree& tree) {
  RealFs fs;
  std::map<std::string, std::string> out;
  std::vector<std::string> dirs;
  for (const char* c : {"cpu", "cpuset", "memory"}) {
    dirs.push_back(tree.path(c));
  }
  for (size_t i = 0; i < dirs.size(); ++i) {
    if (auto subs = fs.listDirs(dirs[i])) {
      for (const auto& s : *subs) {
        dirs.push_back(joinPath(dirs[i], s));
      }
    }
  }
  for (const auto& d : dirs) {
    for (const char* f : kKnobFiles) {
      if (auto v = fs.readFile(joinPath(d, f))) {
        out[joinPath(d, f)] = *v;
      }
    }
  }
  return out;
}

// True when `after` restores `before`: identical, or (cgroup v2) an empty cpuset that came back
// as its parent's effective cpus, because the kernel refuses to empty a populated cpuset.
bool restored(const std::string& path, const std::string& before, const std::string& after) {
  if (before == after) {
    return true;
  }
  if (!path.ends_with("/cpuset.cpus") || before != "\n") {
    return false;
  }
  std::string dir = path.substr(0, path.rfind('/'));
  RealFs fs;
  auto eff = fs.readFile(dir.substr(0, dir.rfind('/')) + "/cpuset.cpus.effective");
  return eff && *eff == after;
}

void expectRestored(const std::map<std::string, std::string>& before,
                    const std::map<std::string, std::string>& after) {
  for (const auto& [path, value] : before) {
    auto it = after.find(path);
    if (it == after.end()) {
      continue;  // vanished; callers check what they removed
    }
    EXPECT_TRUE(restored(path, value, it->second))
        << path << " not restored: was \"" << value << "\", is \"" << it->second << "\"";
  }
}

// A child process with its stdout on a pipe.
struct Child {
  pid_t pid = -1;
  int out_fd = -1;
  std::string buffer;

  // Reads stdout until a line starting with `prefix` arrives or the deadline passes.
  std::string waitLine(const std::string& prefix, std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      size_t pos = 0;
      while (pos < buffer.size()) {
        size_t end = buffer.find('\n', pos);
        if (end == std::string::npos) {
          break;
        }
        std::string line = buffer.substr(pos, end - pos);
        pos = end + 1;
        if (line.starts_with(prefix)) {
          buffer.erase(0, pos);
          return line;
        }
      }
      buffer.erase(0, pos);
      if (Clock::now() > deadline) {
        return "";
      }
      char buf[4096];
      ssize_t n = ::read(out_fd, buf, sizeof(buf));
      if (n > 0) {
        buffer.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        return "";
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
  int wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(out_fd);
    return status;
  }
};

Child startHelper(const std::vector<std::string>& args) {
  int p[2];
  EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(p[1], 1);
    // COLO_CRASH_HELPER in the environment overrides the build-time path (relocated builds).
    const char* env = std::getenv("COLO_CRASH_HELPER");
    std::vector<std::string> all = {env != nullptr ? env : COLO_CRASH_HELPER};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(p[1]);
  ::fcntl(p[0], F_SETFL, O_NONBLOCK);
  return Child{pid, p[0], ""};
}

class ExecutorE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    COLO_REQUIRE_ROOT();
    auto mounts = detectCgroupMounts();
    ASSERT_TRUE(mounts);
    for (const char* c : {"cpu", "cpuset", "memory"}) {
      if (!mounts->mountFor(c)) {
        COLO_SKIP_OR_FAIL(std::string("no cgroup hierarchy carries ") + c);
      }
    }
    if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) {
      COLO_SKIP_OR_FAIL("needs 2 CPUs (one LSX core, one shared)");
    }
    auto tree = TestCgroupTree::create("exec", {"cpu", "cpuacct", "cpuset", "memory"});
    ASSERT_TRUE(tree) << tree.error().message();
    tree_.emplace(std::move(*tree));
    for (const auto& c : crashContainers()) {
      ASSERT_TRUE(tree_->mkdir(c));
    }
    if (tree_->version() == CgroupVersion::kV2) {
      // v2: controllers must be enabled at every level above the containers.
      RealFs fs;
      for (const char* d : {"be", "ls", "lsx", "be/pod1", "be/pod2", "ls/pod3", "lsx/pod4"}) {
        ASSERT_TRUE(fs.writeFile(tree_->path("cpu", d) + "/cgroup.subtree_control",
                                 "+cpu +cpuset +memory"));
      }
    }
    for (const auto& c : crashContainers()) {
      auto pid = tree_->spawn(c, {"sleep", "600"});
      ASSERT_TRUE(pid) << pid.error().message();
    }
    state_dir_ = "/tmp/" + tree_->topName() + "-state";
    std::filesystem::remove_all(state_dir_);
  }
  void TearDown() override {
    if (!state_dir_.empty()) {
      std::filesystem::remove_all(state_dir_);
    }
  }

  std::optional<TestCgroupTree> tree_;
  std::string state_dir_;
};

TEST_F(ExecutorE2e, KillDashNineMidAdjustmentThenRestartRestoresEveryKnob) {
  auto before = snapshot(*tree_);
  ASSERT_GT(before.size(), 20u);
  Child agent = startHelper({"--state-dir", state_dir_, "--top", tree_->topName()});
  ASSERT_NE(agent.waitLine("reconciled", std::chrono::seconds(20)), "");
  // Let it adjust a few times, then kill it while it keeps adjusting.
  std::string applied = agent.waitLine("applied 5", std::chrono::seconds(20));
  ASSERT_NE(applied, "") << "helper made no progress";
  EXPECT_NE(applied.find("failed=0"), std::string::npos) << applied;
  ::kill(agent.pid, SIGKILL);
  int status = agent.wait();
  ASSERT_TRUE(WIFSIGNALED(status));

  // The dead agent left BE idle, capped and pinned: the test means something.
  RealFs fs;
  EXPECT_EQ(fs.readFile(tree_->path("cpuset", "be/pod1/c1") + "/cpuset.cpus").value_or(""), "0\n");
  EXPECT_EQ(fs.readFile(tree_->path("cpuset", "lsx/pod4/c4") + "/cpuset.cpus").value_or(""), "1\n");
  EXPECT_NE(snapshot(*tree_), before);

  // A container vanished while the agent was down.
  std::string gone = tree_->path("cpu", "be/pod2");
  {
    auto procs = fs.readFile(tree_->path("cpu", "be/pod2/c2") + "/cgroup.procs");
    ASSERT_TRUE(procs);
    tree_->kill(std::atoi(procs->c_str()));
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!tree_->rmdir("be/pod2/c2") && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(tree_->rmdir("be/pod2"));
  }

  // Restart: the new agent reconciles from the journal before doing anything else.
  Child restarted = startHelper({"--state-dir", state_dir_, "--reconcile-only"});
  std::string line = restarted.waitLine("reconciled", std::chrono::seconds(20));
  ASSERT_NE(line, "");
  EXPECT_NE(line.find("errors=0"), std::string::npos) << line;
  EXPECT_EQ(line.find("vanished=0"), std::string::npos) << line;
  int rc = restarted.wait();
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);

  auto after = snapshot(*tree_);
  size_t checked = 0;
  for (const auto& [path, value] : before) {
    if (path.find("/be/pod2") != std::string::npos) {
      EXPECT_EQ(after.count(path), 0u);
      continue;
    }
    ASSERT_EQ(after.count(path), 1u) << path;
    EXPECT_TRUE(restored(path, value, after[path]))
        << path << " not restored: was \"" << value << "\", is \"" << after[path] << "\"";
    ++checked;
  }
  EXPECT_GT(checked, 20u);
  // Nothing left to restore: a second start finds a clean journal.
  Child again = startHelper({"--state-dir", state_dir_, "--reconcile-only"});
  std::string line2 = again.waitLine("reconciled", std::chrono::seconds(20));
  EXPECT_EQ(line2, "reconciled restored=0 vanished=0 errors=0");
  again.wait();
}

TEST_F(ExecutorE2e, SigtermRestoresEveryKnob) {
  auto before = snapshot(*tree_);
  Child agent = startHelper({"--state-dir", state_dir_, "--top", tree_->topName()});
  ASSERT_NE(agent.waitLine("applied 3", std::chrono::seconds(20)), "");
  EXPECT_NE(snapshot(*tree_), before);
  ::kill(agent.pid, SIGTERM);
  std::string line = agent.waitLine("restored", std::chrono::seconds(20));
  EXPECT_NE(line.find("errors=0"), std::string::npos) << line;
  int status = agent.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto after = snapshot(*tree_);
  EXPECT_EQ(after.size(), before.size());
  expectRestored(before, after);
}

TEST_F(ExecutorE2e, FreezesWhenCgroupfsWritesFail) {
  RealFs fs;
  executor::ExecutorOptions opts;
  opts.state_dir = state_dir_;
  opts.freeze_after_failures = 3;
  auto ex = executor::Executor::open(fs, opts);
  ASSERT_TRUE(ex) << ex.error().message();
  ASSERT_TRUE((*ex)->reconcile());
  std::string cpus = tree_->path("cpuset", "be/pod1/c1") + "/cpuset.cpus";
  std::string idle = tree_->path("cpu", "be/pod1") + "/cpu.idle";
  auto cpus_before = fs.readFile(cpus);
  auto idle_before = fs.readFile(idle);
  ASSERT_TRUE(cpus_before && idle_before);
  // The kernel refuses CPUs that do not exist (EINVAL): cgroupfs writes fail.
  int bogus = static_cast<int>(::sysconf(_SC_NPROCESSORS_CONF)) + 7;
  for (int i = 0; i < 3; ++i) {
    auto st = (*ex)->write(cpus, std::to_string(bogus + i), "bogus");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().code(), ECANCELED);
  }
  auto h = (*ex)->health();
  EXPECT_TRUE(h.frozen);
  EXPECT_FALSE((*ex)->writable());
  EXPECT_NE(h.reason.find("consecutive"), std::string::npos) << h.reason;
  // Frozen: even a valid write is refused and the knob keeps its value.
  auto st = (*ex)->write(idle, "1", "BE pod");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ECANCELED);
  EXPECT_EQ(fs.readFile(idle).value_or(""), *idle_before);
  EXPECT_EQ(fs.readFile(cpus).value_or(""), *cpus_before);
}

}  // namespace
}  // namespace colo::test
