// colod end to end: the built binary run as a subprocess against a kubelet-shaped tree of real
// colo-test-* cgroups (--cgroup_root points at it), with a private pin dir and socket.
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/cgroup_mounts.h"
#include "common/http.h"
#include "support/agent_api.h"
#include "support/privileged.h"
#include "support/process.h"
#include "support/test_cgroup.h"

extern char** environ;

namespace colo {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using test::pollUntil;
using test::TestCgroupTree;

const std::string kUidBe = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const std::string kUidLs = "11111111-2222-3333-4444-555555555555";
const std::string kIdBe(64, 'b');
const std::string kIdLs(64, 'a');
const std::string kBeRel = "kubepods/besteffort/pod" + kUidBe + "/" + kIdBe;
const std::string kLsRel = "kubepods/burstable/pod" + kUidLs + "/" + kIdLs;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The colod subprocess; killed (SIGKILL) if still running when destroyed.
struct Colod : test::Child {
  Colod(const std::vector<std::string>& args, const std::string& log_path)
      : Child(COLOD_BIN, args, log_path, Stop::kKill) {}
};

class ColodE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COLO_REQUIRE_ROOT();
    if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
      COLO_SKIP_OR_FAIL("no BTF at /sys/kernel/btf/vmlinux");
    }
    // With the memory controller where there is one (the memory test needs it, the others not).
    auto mounts = detectCgroupMounts();
    has_memory_ = mounts && mounts->mountFor("memory").has_value();
    std::vector<std::string> controllers = {"cpu", "cpuacct"};
    if (has_memory_) {
      controllers.push_back("memory");
    }
    auto tree = TestCgroupTree::create("colod", controllers);
    if (!tree) {
      COLO_SKIP_OR_FAIL("cannot create test cgroups: " + tree.error().message());
    }
    tree_.emplace(std::move(*tree));
    dir_ = fmt::format("/tmp/colo-test-colod-{}", ::getpid());
    std::filesystem::create_directories(dir_);
    socket_ = dir_ + "/colod.sock";
    log_ = dir_ + "/colod.log";
    pin_dir_ = fmt::format("/sys/fs/bpf/colo-test-{}", ::getpid());
    ASSERT_TRUE(tree_->mkdir(kBeRel));
    ASSERT_TRUE(tree_->mkdir(kLsRel));
  }

  void TearDown() override {
    colod_.reset();
    if (HasFailure() && !log_.empty()) {
      std::cerr << "---- colod log ----\n" << slurp(log_) << "-------------------\n";
    }
    tree_.reset();
    std::error_code ec;
    if (!pin_dir_.empty()) {
      std::filesystem::remove_all(pin_dir_, ec);
    }
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_, ec);
    }
  }

  void startColod(std::vector<std::string> extra = {}, const std::string& config = "") {
    std::vector<std::string> args = {
        "--cgroup_root=/" + tree_->topName() + "/kubepods",
        "--api_socket=" + socket_,
        "--pin_dir=" + pin_dir_,
        "--tick_ms=200",
        "--config=" + dir_ + "/colod.yaml",
    };
    std::ofstream(dir_ + "/colod.yaml") << "# test config\n" << config;
    args.insert(args.end(), extra.begin(), extra.end());
    colod_.emplace(args, log_);
    ASSERT_GT(colod_->pid(), 0);
    ASSERT_TRUE(pollUntil([&] { return healthStatus() == 200 || !colod_->running(); }, seconds(20)))
        << "colod did not become healthy";
    ASSERT_TRUE(colod_->running()) << "colod exited at start";
  }

  int healthStatus() { return test::apiStatus(socket_, "/healthz"); }
  std::optional<json> containers() { return test::apiJson(socket_, "/v1/containers"); }
  std::string metrics() { return test::apiGet(socket_, "/metrics").value_or(""); }

  // The container with id `id` in the latest /v1/containers, or nullopt.
  std::optional<json> container(const std::string& id) {
    auto all = containers();
    if (!all || all->is_discarded()) {
      return std::nullopt;
    }
    for (const auto& c : (*all)["containers"]) {
      if (c["id"] == id) {
        return c;
      }
    }
    return std::nullopt;
  }

  std::optional<json> getJson(const std::string& path) { return test::apiJson(socket_, path); }

  std::optional<TestCgroupTree> tree_;
  std::optional<Colod> colod_;
  std::string dir_, socket_, log_, pin_dir_;
  bool has_memory_ = false;
};

// A child process in a container cgroup that touches `bytes` of anonymous memory and then
// waits; killed and reaped when this goes.
class MemoryHog {
 public:
  static Result<MemoryHog> start(TestCgroupTree& tree, const std::string& rel, size_t bytes) {
    int go[2], ready[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0) {
      return failErrno(errno, "pipe2");
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      return failErrno(errno, "fork");
    }
    if (pid == 0) {
      // Touch the memory only once in the cgroup, so that it is charged there.
      char c = 0;
      if (::read(go[0], &c, 1) != 1) {
        ::_exit(1);
      }
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) {
        ::_exit(2);
      }
      std::memset(p, 0x5a, bytes);
      (void)!::write(ready[1], &c, 1);
      ::read(go[0], &c, 1);  // until killed
      ::_exit(0);
    }
    ::close(go[0]);
    ::close(ready[1]);
    MemoryHog hog(pid, go[1]);
    if (auto st = tree.addPid(rel, pid); !st) {
      ::close(ready[0]);
      return fail(st.error());
    }
    char c = 1;
    (void)!::write(go[1], &c, 1);
    bool ok = ::read(ready[0], &c, 1) == 1;
    ::close(ready[0]);
    if (!ok) {
      return failErrno(EIO, "memory hog did not start");
    }
    return hog;
  }
  MemoryHog(MemoryHog&& o) noexcept
      : pid_(std::exchange(o.pid_, -1)), go_fd_(std::exchange(o.go_fd_, -1)) {}
  MemoryHog& operator=(MemoryHog&&) = delete;
  ~MemoryHog() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (go_fd_ >= 0) {
      ::close(go_fd_);
    }
  }

 private:
  MemoryHog(pid_t pid, int go_fd) : pid_(pid), go_fd_(go_fd) {}
  pid_t pid_;
  int go_fd_;
};

TEST_F(ColodE2eTest, ListsKubeletContainersWithTiersAndFigures) {
  // A busy BE hog and a sleeping-waking LS probe share CPU 0. Our top cgroup gets a large CPU
  // weight so that other work on this machine (builds, other tests) does not starve the hog.
  std::string weight_file = tree_->version() == CgroupVersion::kV1
                                ? tree_->path("cpu") + "/cpu.shares"
                                : tree_->path("cpu") + "/cpu.weight";
  std::ofstream(weight_file) << (tree_->version() == CgroupVersion::kV1 ? "102400" : "10000");
  ASSERT_TRUE(tree_->spawn(kBeRel, {"sh", "-c", "while :; do :; done"}, 0));
  ASSERT_TRUE(tree_->spawn(kLsRel, {"sh", "-c", "while :; do sleep 0.02; done"}, 0));
  ASSERT_NO_FATAL_FAILURE(startColod({"--api_addr=127.0.0.1:0"}));

  ASSERT_TRUE(pollUntil([&] { return container(kIdBe) && container(kIdLs); }, seconds(5)));
  auto be = *container(kIdBe);
  auto ls = *container(kIdLs);
  EXPECT_EQ(be["tier"], "BE");
  EXPECT_EQ(be["qos"], "besteffort");
  EXPECT_EQ(be["pod_uid"], kUidBe);
  EXPECT_EQ(ls["tier"], "LS");
  EXPECT_EQ(ls["qos"], "burstable");
  EXPECT_EQ(ls["cgroup"], "/" + tree_->topName() + "/" + kLsRel);
  struct stat st {};
  ASSERT_EQ(::stat(tree_->path("cpu", kLsRel).c_str(), &st), 0);
  EXPECT_EQ(ls["cgroup_id"], st.st_ino);

  double best_usage = 0;
  EXPECT_TRUE(pollUntil(
      [&] {
        auto c = container(kIdBe);
        if (c && c->contains("cpu") && !(*c)["cpu"].is_null()) {
          best_usage = std::max(best_usage, (*c)["cpu"]["usage_cores"].get<double>());
        }
        return best_usage > 0.5;
      },
      seconds(20)))
      << "hog usage never above 0.5 cores, best " << best_usage;

  auto t0 = std::chrono::steady_clock::now();
  auto since = [&] {
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count();
  };
  std::cout << "hog at " << best_usage << " cores\n";
  uint64_t first_count = (*container(kIdLs))["runq"]["count"].get<uint64_t>();
  EXPECT_TRUE(pollUntil(
      [&] {
        auto c = container(kIdLs);
        return c && (*c)["runq"]["count"].get<uint64_t>() > first_count;
      },
      seconds(20)))
      << "LS probe's run-queue count did not grow";
  std::cout << "runq count grew after " << since() << " ms\n";
  EXPECT_TRUE(pollUntil(
      [&] {
        auto c = container(kIdLs);
        return c && (*c)["waited_behind_lower"].get<uint64_t>() > 0;
      },
      seconds(20)))
      << "LS probe never counted as waiting behind the BE hog";
  std::cout << "waited_behind_lower > 0 after " << since() << " ms\n";
  auto c = *container(kIdLs);
  EXPECT_FALSE(c["runq"]["p99_ns"].is_null());

  std::string m = metrics();
  EXPECT_NE(m.find("# TYPE colo_agent_tick_duration_seconds gauge"), std::string::npos);

  // The loopback listener (port 0: the log says which port it got) serves the same API.
  std::smatch match;
  std::string log_text = slurp(log_);
  ASSERT_TRUE(std::regex_search(log_text, match, std::regex(R"(API on 127\.0\.0\.1:(\d+))")))
      << log_text;
  auto tcp = http::Client::connect("127.0.0.1:" + match[1].str(), 2000);
  ASSERT_TRUE(tcp) << tcp.error().message();
  auto health = tcp->get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto listed = tcp->get("/v1/containers");
  ASSERT_TRUE(listed);
  EXPECT_NE(listed->body.find(kIdBe), std::string::npos);
  EXPECT_NE(m.find("colo_container_cpu_usage_cores{container=\"" + kIdBe), std::string::npos);
  EXPECT_NE(m.find("colo_agent_containers{tier=\"BE\"} 1"), std::string::npos);
}

// A container holding 64 MiB of anonymous memory shows it (its working set) in /v1/containers and
// /metrics, an idle one next to it shows little, and the figure reaches the policy engine: the
// be-memory capacity's LS memory peak and the container's profile.
TEST_F(ColodE2eTest, ReportsContainerMemoryWorkingSetToTheApiAndTheEngine) {
  if (!has_memory_) {
    COLO_SKIP_OR_FAIL("no cgroup hierarchy carries the memory controller");
  }
  if (tree_->version() == CgroupVersion::kV2) {
    // v2: the memory controller enabled at every level above the containers.
    for (std::string rel : {kLsRel, kBeRel}) {
      std::vector<std::string> parents;
      for (auto p = std::filesystem::path(rel).parent_path(); !p.empty(); p = p.parent_path()) {
        parents.insert(parents.begin(), p.string());
      }
      for (const auto& d : parents) {
        std::ofstream(tree_->path("memory", d) + "/cgroup.subtree_control") << "+cpu +memory";
      }
    }
  }
  constexpr uint64_t kMiB = 1 << 20;
  auto hog = MemoryHog::start(*tree_, kLsRel, 64 * kMiB);
  ASSERT_TRUE(hog) << hog.error().message();
  ASSERT_TRUE(tree_->spawn(kBeRel, {"sleep", "600"}));
  ASSERT_NO_FATAL_FAILURE(startColod({"--enforce=false", "--state_dir=" + dir_ + "/state",
                                      "--feature_probe_cgroup=" + tree_->topName() + "-probe"},
                                     "policy:\n  be_cpu: {safety_watermark: 0.9}\n"));

  auto working_set = [&](const std::string& id) -> std::optional<uint64_t> {
    auto c = container(id);
    if (!c || !c->contains("memory") || (*c)["memory"].is_null()) {
      return std::nullopt;
    }
    return (*c)["memory"]["working_set_bytes"].get<uint64_t>();
  };
  // Memory is read about once a second per container: a few seconds at most.
  ASSERT_TRUE(pollUntil([&] { return working_set(kIdLs) && working_set(kIdBe); }, seconds(10)))
      << "no memory figures in " << (containers() ? containers()->dump() : "(none)");
  EXPECT_TRUE(pollUntil([&] { return working_set(kIdLs).value_or(0) >= 56 * kMiB; }, seconds(10)))
      << "LS working set " << working_set(kIdLs).value_or(0) / kMiB << " MiB";
  EXPECT_LT(*working_set(kIdBe), 16 * kMiB) << "an idle container holds little";
  auto ls = *container(kIdLs);
  EXPECT_GE(ls["memory"]["usage_bytes"].get<uint64_t>(), 56 * kMiB);
  std::cout << "LS working set " << *working_set(kIdLs) / kMiB << " MiB, idle BE "
            << *working_set(kIdBe) / 1024 << " KiB\n";

  std::string m = metrics();
  std::smatch match;
  ASSERT_TRUE(
      std::regex_search(m, match,
                        std::regex("colo_container_memory_working_set_bytes\\{container=\"" +
                                   kIdLs + "\"[^}]*\\} ([0-9.e+]+)")))
      << m;
  EXPECT_GE(std::stod(match[1].str()), 56.0 * kMiB);

  // The engine's input: be-memory's LS memory peak and the LS container's profile.
  EXPECT_TRUE(pollUntil(
      [&] {
        auto node = getJson("/v1/node");
        return node &&
               (*node)["capacity"]["terms"]["ls_memory_peak_bytes"].get<double>() >= 56.0 * kMiB;
      },
      seconds(10)))
      << (getJson("/v1/node") ? getJson("/v1/node")->dump() : "(no /v1/node)");
  EXPECT_TRUE(pollUntil(
      [&] {
        auto c = container(kIdLs);
        return c && (*c)["profile"].is_object() &&
               (*c)["profile"]["memory"]["max_bytes"].get<double>() >= 56.0 * kMiB;
      },
      seconds(10)));
  EXPECT_NE(metrics().find("colo_agent_read_errors_total 0\n"), std::string::npos);
}

TEST_F(ColodE2eTest, ContainerCreatedAfterStartAppearsAndGoesWithoutRescan) {
  ASSERT_NO_FATAL_FAILURE(startColod({"--resync_interval_s=86400"}));
  ASSERT_TRUE(pollUntil([&] { return container(kIdLs).has_value(); }, seconds(5)));
  const std::string id(64, 'c');
  const std::string rel = "kubepods/besteffort/pod" + kUidBe + "/" + id;
  ASSERT_TRUE(tree_->mkdir(rel));
  // A few ticks (200 ms each), with a wide margin.
  EXPECT_TRUE(pollUntil([&] { return container(id).has_value(); }, seconds(3)))
      << "new container not listed";
  auto c = container(id);
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["tier"], "BE");
  ASSERT_TRUE(tree_->rmdir(rel));
  EXPECT_TRUE(pollUntil([&] { return !container(id).has_value() && container(kIdLs); }, seconds(3)))
      << "removed container still listed";
  std::string m = metrics();
  EXPECT_NE(m.find("colo_agent_resyncs_total 0"), std::string::npos) << "found by a rescan";
  EXPECT_EQ(m.find("colo_agent_cgroup_events_total{kind=\"mkdir\"} 0\n"), std::string::npos);
}

TEST_F(ColodE2eTest, SurvivesCgroupsVanishingMidRead) {
  ASSERT_NO_FATAL_FAILURE(startColod({"--tick_ms=100", "--resync_interval_s=1"}));
  // Containers come and go as fast as we can make them while the agent ticks and resyncs: some
  // vanish between discovery and a read.
  for (int round = 0; round < 200; ++round) {
    std::string rel = fmt::format("kubepods/burstable/pod{}/{:064x}", kUidLs, round + 1);
    ASSERT_TRUE(tree_->mkdir(rel));
    if (round % 10 == 0) {
      std::this_thread::sleep_for(milliseconds(20));  // let some of them be seen first
    }
    ASSERT_TRUE(tree_->rmdir(rel));
    ASSERT_TRUE(colod_->running()) << "colod died at round " << round;
  }
  EXPECT_TRUE(pollUntil([&] { return healthStatus() == 200; }, seconds(5)));
  EXPECT_TRUE(colod_->running());
  // Only the two stable containers remain.
  EXPECT_TRUE(pollUntil(
      [&] {
        auto all = containers();
        return all && !all->is_discarded() && (*all)["containers"].size() == 2;
      },
      seconds(5)));
  // A vanished cgroup is normal, not a read error.
  EXPECT_NE(metrics().find("colo_agent_read_errors_total 0\n"), std::string::npos);
}

TEST_F(ColodE2eTest, TierRulesServeAPlainHost) {
  const std::string top = "/" + tree_->topName();
  ASSERT_TRUE(tree_->mkdir("batch/etl"));
  ASSERT_TRUE(tree_->mkdir("web"));
  ASSERT_NO_FATAL_FAILURE(startColod({}, fmt::format("tier_rules:\n"
                                                     "  - {{match: {0}/web, tier: LSX}}\n"
                                                     "  - {{match: {0}/batch/*, tier: BE}}\n",
                                                     top)));
  ASSERT_TRUE(pollUntil([&] { return container(top + "/web").has_value(); }, seconds(5)));
  EXPECT_EQ((*container(top + "/web"))["tier"], "LSX");
  auto etl = container(top + "/batch/etl");
  ASSERT_TRUE(etl);
  EXPECT_EQ((*etl)["tier"], "BE");
  EXPECT_EQ((*etl)["pod_uid"], "");
  EXPECT_FALSE(container(top + "/batch").has_value()) << "no rule matches /batch itself";
  // Kubelet containers that no rule matches keep the tier of their QoS class.
  EXPECT_EQ((*container(kIdLs))["tier"], "LS");
  ASSERT_TRUE(tree_->mkdir("batch/train"));
  EXPECT_TRUE(pollUntil([&] { return container(top + "/batch/train").has_value(); }, seconds(3)));
}

TEST_F(ColodE2eTest, SigtermExitsZeroPromptly) {
  ASSERT_NO_FATAL_FAILURE(startColod());
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(colod_->pid(), SIGTERM), 0);
  auto status = colod_->waitExit(seconds(5));
  ASSERT_TRUE(status) << "colod still running 5 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(2));
  EXPECT_FALSE(std::filesystem::exists(socket_)) << "socket left behind";
}

// Runs the binary to completion with `args`; returns (wait status, output).
std::pair<int, std::string> runColod(const std::vector<std::string>& args) {
  std::string log = fmt::format("/tmp/colo-test-colod-flags-{}.log", ::getpid());
  Colod c(args, log);
  auto status = c.waitExit(seconds(10));
  std::string out = slurp(log);
  ::unlink(log.c_str());
  return {status ? *status : -1, out};
}

TEST(ColodStartupTest, WithoutPrivilegesSaysWhatItNeeds) {
  COLO_REQUIRE_ROOT();
  std::string log = fmt::format("/tmp/colo-test-colod-nopriv-{}.log", ::getpid());
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    // nobody: no capabilities left after the uid change.
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(99);
    }
    ::execl(COLOD_BIN, COLOD_BIN, "--api_socket=/tmp/colo-test-nopriv.sock",
            "--pin_dir=/sys/fs/bpf/colo-test-nopriv", "--config=/dev/null", nullptr);
    ::_exit(98);
  }
  ::close(fd);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  std::string out = slurp(log);
  ::unlink(log.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_LT(WEXITSTATUS(status), 98) << "could not drop privileges";
  EXPECT_NE(out.find("colod needs root or CAP_BPF+CAP_PERFMON+CAP_SYS_ADMIN"), std::string::npos)
      << out;
}

TEST(ColodFlagsTest, BadValuesExitNonZeroNamingTheKey) {
  auto [status, out] = runColod({"--tick_ms=50"});
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_NE(out.find("flag --tick_ms: must be between 100 and 60000, got 50"), std::string::npos)
      << out;

  std::string cfg = fmt::format("/tmp/colo-test-colod-{}.yaml", ::getpid());
  std::ofstream(cfg) << "window_ticks: 0\n";
  std::tie(status, out) = runColod({"--config=" + cfg});
  ::unlink(cfg.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_NE(out.find("config " + cfg + ": window_ticks: must be between 1 and 600, got 0"),
            std::string::npos)
      << out;

  std::tie(status, out) = runColod({"--config=/nonexistent/colod.yaml"});
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_NE(out.find("config /nonexistent/colod.yaml"), std::string::npos) << out;
}

}  // namespace
}  // namespace colo
