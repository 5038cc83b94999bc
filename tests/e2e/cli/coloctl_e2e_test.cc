// coloctl end to end: the built binary run as a subprocess against maps pinned by a SchedProbe
// loaded here (private pin dir), real colo-test-* cgroups with processes in them, and a fake
// colod (an http::Server on a unix socket serving canned /v1/containers).
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bpf/sched_probe.h"
#include "common/http.h"
#include "support/privileged.h"
#include "support/process.h"
#include "support/test_cgroup.h"

extern char** environ;

namespace colo {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using test::TestCgroupTree;

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the built coloctl with `args`, stdout and stderr captured in files.
CliRun coloctl(const std::vector<std::string>& args) {
  static int seq = 0;
  std::string base = fmt::format("/tmp/coloctl-e2e-{}-{}", ::getpid(), seq++);
  std::string out_path = base + ".out";
  std::string err_path = base + ".err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> argv_s = {COLOCTL_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  CliRun r;
  pid_t pid = 0;
  int rc = posix_spawn(&pid, COLOCTL_BIN, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = fmt::format("posix_spawn {}: {}", COLOCTL_BIN, std::strerror(rc));
    return r;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

// Polls pred every 50 ms until it holds or `limit` passes.
template <typename Pred>
bool eventually(Pred&& pred, milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pred()) {
      return true;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
}

uint64_t inodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// The row of `maps --json` for cgroup `id`, or null.
json rowOf(const json& doc, uint64_t id) {
  if (!doc.is_object() || !doc.contains("cgroups")) {
    return nullptr;
  }
  for (const auto& c : doc["cgroups"]) {
    if (c["cgroup_id"] == id) {
      return c;
    }
  }
  return nullptr;
}

class ColoctlE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    COLO_REQUIRE_ROOT();
    if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
      COLO_SKIP_OR_FAIL("kernel has no BTF at /sys/kernel/btf/vmlinux");
    }
    auto tree = TestCgroupTree::create("cli");
    ASSERT_TRUE(tree) << tree.error().message();
    tree_.emplace(std::move(*tree));
    ASSERT_TRUE(tree_->mkdir("busy"));
    pin_dir_ = "/sys/fs/bpf/colo-test-" + std::to_string(::getpid());
    cpu_ = static_cast<int>(std::thread::hardware_concurrency()) - 1;
    bpf::ProbeOptions o;
    o.pin_dir = pin_dir_;
    o.hierarchy =
        tree_->version() == CgroupVersion::kV2 ? bpf::Hierarchy::kV2 : bpf::Hierarchy::kV1Cpu;
    o.max_cgroups = 1024;
    auto probe = bpf::SchedProbe::load(o);
    ASSERT_TRUE(probe) << probe.error().message();
    probe_ = std::move(*probe);
  }

  void TearDown() override {
    probe_.reset();
    std::error_code ec;
    std::filesystem::remove_all(pin_dir_, ec);
    tree_.reset();
  }

  // A task that sleeps and wakes all the time (every wakeup is a measured delay) and a spinner
  // on the same CPU, so the delays are real.
  void spawnWorkload(const std::string& rel) {
    auto sleeper = tree_->spawn(rel, {"/bin/sh", "-c", "while :; do /bin/sleep 0.001; done"}, cpu_);
    ASSERT_TRUE(sleeper) << sleeper.error().message();
    auto spinner = tree_->spawn(rel, {"/bin/sh", "-c", "while :; do :; done"}, cpu_);
    ASSERT_TRUE(spinner) << spinner.error().message();
    pids_.push_back(*sleeper);
    pids_.push_back(*spinner);
  }

  // Kills the workload, including the /bin/sleep children the shells leave behind, and removes
  // the cgroup once the kernel has let go of the dead tasks (polled, 5 s at most).
  bool killAndRemove(const std::string& rel) {
    for (pid_t p : pids_) {
      tree_->kill(p);
    }
    pids_.clear();
    return eventually(
        [&] {
          std::ifstream procs(absPath(rel) + "/cgroup.procs");
          pid_t pid = 0;
          while (procs >> pid) {
            ::kill(pid, SIGKILL);
          }
          return static_cast<bool>(tree_->rmdir(rel));
        },
        seconds(5));
  }

  // Path of `rel` relative to the cpu hierarchy root, as coloctl prints it.
  std::string relPath(const std::string& rel) const {
    return "/" + tree_->topName() + (rel.empty() ? "" : "/" + rel);
  }
  std::string absPath(const std::string& rel) const { return tree_->path("cpu", rel); }

  json mapsJson() {
    CliRun r = coloctl({"maps", "--pin_dir", pin_dir_, "--json"});
    last_ = r;
    if (r.code != 0) {
      return nullptr;
    }
    json doc = json::parse(r.out, nullptr, false);
    return doc.is_discarded() ? json(nullptr) : doc;
  }

  std::optional<TestCgroupTree> tree_;
  std::unique_ptr<bpf::SchedProbe> probe_;
  std::string pin_dir_;
  int cpu_ = 0;
  std::vector<pid_t> pids_;
  CliRun last_;
};

TEST_F(ColoctlE2e, MapsShowsTheBusyCgroupWithItsPath) {
  spawnWorkload("busy");
  uint64_t id = inodeOf(absPath("busy"));
  ASSERT_NE(id, 0u);
  json row;
  ASSERT_TRUE(eventually(
      [&] {
        row = rowOf(mapsJson(), id);
        return !row.is_null() && row["count"].get<uint64_t>() > 0;
      },
      seconds(10)))
      << "cgroup " << id << " never showed with count > 0; last run: exit " << last_.code << "\n"
      << last_.out << last_.err;
  EXPECT_EQ(row["path"], relPath("busy"));
  EXPECT_EQ(row["path_source"], "walk");  // created before the probe: found by inode
  EXPECT_EQ(row["name"], relPath("busy"));
  EXPECT_EQ(row["hierarchy"], tree_->version() == CgroupVersion::kV2 ? "v2" : "v1-cpu");
  EXPECT_FALSE(row["gone"].get<bool>());
  EXPECT_GT(row["p99_ns"].get<uint64_t>(), 0u);
  EXPECT_EQ(row["hist"].size(), static_cast<size_t>(bpf::kHistBuckets));

  // The table shows the same cgroup by path, and the thresholds and error counters.
  CliRun table = coloctl({"maps", "--pin_dir=" + pin_dir_});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find(relPath("busy")), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("thresholds:"), std::string::npos);
  EXPECT_NE(table.out.find("bpf errors:"), std::string::npos);
}

TEST_F(ColoctlE2e, NewCgroupAppearsWithoutRescanAndLeavesWhenRemoved) {
  // Created after the probe was loaded: named from the BPF cgroup map (or the walk).
  ASSERT_TRUE(tree_->mkdir("late"));
  uint64_t id = inodeOf(absPath("late"));
  ASSERT_NE(id, 0u);
  spawnWorkload("late");
  json row;
  ASSERT_TRUE(eventually(
      [&] {
        row = rowOf(mapsJson(), id);
        return !row.is_null() && row["count"].get<uint64_t>() > 0;
      },
      seconds(10)))
      << "new cgroup " << id << " never showed; last run: exit " << last_.code << "\n"
      << last_.out << last_.err;
  EXPECT_EQ(row["path"], relPath("late"));
  // Named by BPF at mkdir: no agent rescan, no hierarchy walk needed.
  EXPECT_EQ(row["path_source"], "bpf");

  // hist draws it, by path and by cgroup id.
  CliRun hist = coloctl({"hist", "--pin_dir", pin_dir_, relPath("late")});
  ASSERT_EQ(hist.code, 0) << hist.err;
  EXPECT_NE(hist.out.find("run-queue delay of " + relPath("late")), std::string::npos) << hist.out;
  EXPECT_NE(hist.out.find("|#"), std::string::npos) << hist.out;
  EXPECT_NE(hist.out.find("percent"), std::string::npos);
  CliRun hist_json = coloctl({"hist", "--pin_dir", pin_dir_, "--json", std::to_string(id)});
  ASSERT_EQ(hist_json.code, 0) << hist_json.err;
  json h = json::parse(hist_json.out);
  EXPECT_EQ(h["source"], "pinned");
  EXPECT_EQ(h["container"]["cgroup_id"], id);
  EXPECT_GT(h["total"].get<uint64_t>(), 0u);

  ASSERT_TRUE(killAndRemove("late"));
  EXPECT_TRUE(eventually(
      [&] {
        json doc = mapsJson();
        return !doc.is_null() && rowOf(doc, id).is_null();
      },
      seconds(10)))
      << "removed cgroup " << id << " still listed:\n"
      << last_.out;
  CliRun gone = coloctl({"hist", "--pin_dir", pin_dir_, std::to_string(id)});
  EXPECT_EQ(gone.code, 1) << gone.out << gone.err;
}

TEST(ColoctlE2eNoProbe, MissingPinDirExitsTwoWithAdvice) {
  COLO_REQUIRE_ROOT();
  std::string dir = "/sys/fs/bpf/colo-test-missing-" + std::to_string(::getpid());
  CliRun r = coloctl({"maps", "--pin_dir", dir});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no pinned maps at " + dir + ": is colod running? start it with `colod`"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty());
  CliRun h = coloctl({"hist", "--pin_dir", dir, "x"});
  EXPECT_EQ(h.code, 2) << h.err;
}

TEST(ColoctlE2eNoProbe, UnknownCommandExitsOneWithUsage) {
  CliRun r = coloctl({"frobnicate"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown command \"frobnicate\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage: coloctl"), std::string::npos);
  CliRun flag = coloctl({"maps", "--nonsense"});
  EXPECT_EQ(flag.code, 1);
  CliRun help = coloctl({"--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* command : {"maps", "top", "hist", "features", "revisions", "rollback"}) {
    EXPECT_NE(help.out.find(std::string("\n  ") + command + " "), std::string::npos) << command;
  }
}

constexpr const char* kCanned = R"({
  "node": "e2e-node", "tick_ms": 1000, "window_ticks": 60, "cgroup_version": 1,
  "attach_mode": "tp_btf",
  "containers": [
    {"id": "aaa111", "name": "podu1/aaa111", "pod_uid": "u1", "tier": "LS",
     "cgroup": "/kubepods/burstable/podu1/aaa111", "cgroup_id": 11,
     "cpu": {"usage_cores": 0.25, "throttled_pct": 5.0},
     "runq": {"p50_ns": 8192, "p99_ns": 262144},
     "hist_window": [0,0,0,0,0,0,0,0,0,0,0,0,3,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],
     "waited_behind_lower": 12, "waited_behind_lower_delta": 3},
    {"id": "bbb222", "name": "podu2/bbb222", "pod_uid": "u2", "tier": "BE",
     "cgroup": "/kubepods/besteffort/podu2/bbb222", "cgroup_id": 12,
     "cpu": {"usage_cores": 1.5, "throttled_pct": 0.0},
     "runq": {"p50_ns": 65536, "p99_ns": 4194304},
     "hist_window": [], "waited_behind_lower": 0, "waited_behind_lower_delta": 0}
  ]})";

TEST(ColoctlE2eNoProbe, TopAgainstAFakeColod) {
  std::string dir = fmt::format("/tmp/colo-test-cli-{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::string sock = dir + "/colod.sock";
  int requests = 0;
  http::Server server({}, [&](const http::Request& req) {
    ++requests;
    http::Response resp;
    if (req.path == "/v1/containers") {
      resp.body = kCanned;
    } else {
      resp.status = 404;
      resp.body = "{}";
    }
    return resp;
  });
  ASSERT_TRUE(server.listenUnix(sock));
  ASSERT_TRUE(server.start());

  CliRun r = coloctl({"top", "--socket", sock, "--iterations", "2", "--interval=10ms", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int docs = 0;
  while (std::getline(lines, line)) {
    json doc = json::parse(line);
    ++docs;
    EXPECT_EQ(doc["node"], "e2e-node");
    ASSERT_EQ(doc["containers"].size(), 2u);
    EXPECT_EQ(doc["containers"][0]["id"], "bbb222");  // sorted by CPU
    EXPECT_EQ(doc["containers"][1]["waited_behind_lower"], 12);
  }
  EXPECT_EQ(docs, 2);
  EXPECT_EQ(requests, 2);

  CliRun table = coloctl({"top", "--socket", sock, "--iterations=1", "--sort=p50"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("colod on e2e-node"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos);  // not a terminal: no ANSI
  EXPECT_LT(table.out.find("podu2/bbb222"), table.out.find("podu1/aaa111"));

  CliRun hist = coloctl({"hist", "--socket", sock, "--window", "aaa"});
  ASSERT_EQ(hist.code, 0) << hist.err;
  EXPECT_NE(hist.out.find("4 delays"), std::string::npos) << hist.out;

  server.stop();
  std::filesystem::remove_all(dir);
  CliRun down = coloctl({"top", "--socket", sock, "--iterations=1"});
  EXPECT_EQ(down.code, 2);
  EXPECT_NE(down.err.find("colod is not running"), std::string::npos) << down.err;
}

#ifdef COLOD_BIN
// colod as a subprocess (stdout and stderr to `log`), SIGKILLed when destroyed if still running.
class ColodProcess {
 public:
  ColodProcess(const std::vector<std::string>& args, const std::string& log) {
    pid_ = test::spawnLogged(COLOD_BIN, args, log);
  }
  ~ColodProcess() { stop(SIGKILL); }
  bool running() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Sends `sig` and reaps the process (SIGKILL after 5 s).
  void stop(int sig) {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, sig);
    if (!eventually([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, seconds(5))) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// coloctl against a real colod watching a kubelet-shaped colo-test-* tree: top from its API, maps
// with the tiers it wrote and pod/container names from the kubelet layout, and maps still
// readable after colod stopped.
TEST(ColoctlWithColod, TopMapsAndHistAgainstARealAgent) {
  COLO_REQUIRE_ROOT();
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    COLO_SKIP_OR_FAIL("kernel has no BTF at /sys/kernel/btf/vmlinux");
  }
  auto tree = TestCgroupTree::create("cli-colod");
  ASSERT_TRUE(tree) << tree.error().message();
  const std::string uid_ls = "0b1c2d3e-0000-4000-8000-00000000001a";
  const std::string uid_be = "0b1c2d3e-0000-4000-8000-00000000002b";
  const std::string id_ls(64, 'a');
  const std::string id_be(64, 'b');
  const std::string ls_rel = "kubepods/burstable/pod" + uid_ls + "/" + id_ls;
  const std::string be_rel = "kubepods/besteffort/pod" + uid_be + "/" + id_be;
  ASSERT_TRUE(tree->mkdir(ls_rel));
  ASSERT_TRUE(tree->mkdir(be_rel));
  // Other work on this machine must not starve the test's tasks.
  std::ofstream(tree->version() == CgroupVersion::kV1 ? tree->path("cpu") + "/cpu.shares"
                                                      : tree->path("cpu") + "/cpu.weight")
      << (tree->version() == CgroupVersion::kV1 ? "102400" : "10000");
  int cpu = static_cast<int>(std::thread::hardware_concurrency()) - 1;
  ASSERT_TRUE(tree->spawn(be_rel, {"/bin/sh", "-c", "while :; do :; done"}, cpu));
  ASSERT_TRUE(tree->spawn(ls_rel, {"/bin/sh", "-c", "while :; do /bin/sleep 0.005; done"}, cpu));

  std::string dir = fmt::format("/tmp/colo-test-cli-colod-{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::string sock = dir + "/colod.sock";
  std::string pin_dir = fmt::format("/sys/fs/bpf/colo-test-cli-{}", ::getpid());
  std::ofstream(dir + "/colod.yaml") << "# defaults\n";
  std::optional<ColodProcess> colod;
  colod.emplace(std::vector<std::string>{"--cgroup_root=/" + tree->topName() + "/kubepods",
                                         "--api_socket=" + sock, "--pin_dir=" + pin_dir,
                                         "--tick_ms=200", "--config=" + dir + "/colod.yaml"},
                dir + "/colod.log");
  auto cleanup = [&] {
    colod.reset();
    std::error_code ec;
    std::filesystem::remove_all(pin_dir, ec);
    std::filesystem::remove_all(dir, ec);
  };

  // top: both containers, with the tiers colod gave them.
  json top;
  bool listed = eventually(
      [&] {
        CliRun r = coloctl({"top", "--socket", sock, "--iterations=1", "--json"});
        if (r.code != 0) {
          return false;
        }
        top = json::parse(r.out, nullptr, false);
        return !top.is_discarded() && top["containers"].size() == 2;
      },
      seconds(20));
  if (!listed) {
    std::string log = slurp(dir + "/colod.log");
    cleanup();
    FAIL() << "coloctl top never listed both containers; colod log:\n" << log;
  }
  std::map<std::string, std::string> tiers;
  for (const auto& c : top["containers"]) {
    tiers[c["id"].get<std::string>()] = c["tier"].get<std::string>();
  }
  EXPECT_EQ(tiers[id_ls], "LS");
  EXPECT_EQ(tiers[id_be], "BE");
  CliRun table = coloctl({"top", "--socket", sock, "--iterations=1"});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("RUNQ_P99"), std::string::npos) << table.out;

  // maps: the LS container named pod<uid>/<id>, tier from colod's tier map, delays counted.
  uint64_t ls_id = inodeOf(tree->path("cpu", ls_rel));
  json row;
  EXPECT_TRUE(eventually(
      [&] {
        CliRun r = coloctl({"maps", "--pin_dir", pin_dir, "--json"});
        json doc = json::parse(r.out, nullptr, false);
        row = r.code == 0 && !doc.is_discarded() ? rowOf(doc, ls_id) : json(nullptr);
        return !row.is_null() && row["count"].get<uint64_t>() > 0 && row["tier"] == "LS";
      },
      seconds(20)))
      << "LS container not in maps with tier LS and count > 0: " << row.dump();
  if (!row.is_null()) {
    EXPECT_EQ(row["name"], "pod" + uid_ls + "/" + id_ls);
    EXPECT_EQ(row["pod_uid"], uid_ls);
    EXPECT_EQ(row["container_id"], id_ls);
    EXPECT_EQ(row["qos"], "burstable");
  }
  CliRun hist = coloctl({"hist", "--pin_dir", pin_dir, "aaaa"});  // id prefix
  EXPECT_EQ(hist.code, 0) << hist.err;
  EXPECT_NE(hist.out.find("tier LS"), std::string::npos) << hist.out;
  CliRun window = coloctl({"hist", "--socket", sock, "--window", "--json", uid_ls});
  EXPECT_EQ(window.code, 0) << window.err;
  if (window.code == 0) {
    EXPECT_EQ(json::parse(window.out)["source"], "window");
  }

  // colod stopped: the maps stay pinned and coloctl still reads them; top says colod is down.
  colod->stop(SIGTERM);
  CliRun after = coloctl({"maps", "--pin_dir", pin_dir, "--json"});
  EXPECT_EQ(after.code, 0) << after.err;
  if (after.code == 0) {
    EXPECT_FALSE(rowOf(json::parse(after.out), ls_id).is_null()) << after.out;
  }
  CliRun down = coloctl({"top", "--socket", sock, "--iterations=1"});
  EXPECT_EQ(down.code, 2);
  EXPECT_NE(down.err.find("colod is not running"), std::string::npos) << down.err;
  cleanup();
}
#endif  // COLOD_BIN

}  // namespace
}  // namespace colo
