// colod enforcing, end to end: the built binary with a `policy:` section, run as a subprocess
// against a kubelet-shaped tree of real colo-test-* cgroups (cpu, cpuacct, cpuset, memory), with
// a private pin dir, socket and state dir. Every check reads the cgroup files themselves.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/cgroup_mounts.h"
#include "common/fs.h"
#include "common/http.h"
#include "kmods-free/task_slice.h"
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
const std::string kUidLs2 = "22222222-2222-3333-4444-555555555555";
const std::string kUidLsx = "33333333-2222-3333-4444-555555555555";
const std::string kBePod = "kubepods/besteffort/pod" + kUidBe;
const std::string kLsPod = "kubepods/burstable/pod" + kUidLs;
const std::string kLs2Pod = "kubepods/burstable/pod" + kUidLs2;
const std::string kLsxPod = "kubepods/pod" + kUidLsx;
const std::string kBe = kBePod + "/" + std::string(64, 'b');
const std::string kLs = kLsPod + "/" + std::string(64, 'a');
const std::string kLs2 = kLs2Pod + "/" + std::string(64, 'c');
const std::string kLsx = kLsxPod + "/" + std::string(64, 'd');

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

std::set<int> cpuList(const std::string& text) {
  std::set<int> out;
  std::stringstream ss(trimmed(text));
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) {
      continue;
    }
    auto dash = part.find('-');
    int lo = std::stoi(part.substr(0, dash));
    int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
    for (int c = lo; c <= hi; ++c) {
      out.insert(c);
    }
  }
  return out;
}

// colod started by a test; on scope exit SIGTERM (it restores its knobs), SIGKILL if it hangs.
struct Colod : test::Child {
  Colod(const std::vector<std::string>& args, const std::string& log_path)
      : Child(COLOD_BIN, args, log_path, Stop::kTermThenKill, /*append_log=*/true) {}
};

class ColodEnforceE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    COLO_REQUIRE_ROOT();
    if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
      COLO_SKIP_OR_FAIL("no BTF at /sys/kernel/btf/vmlinux");
    }
    auto mounts = detectCgroupMounts();
    ASSERT_TRUE(mounts);
    for (const char* c : {"cpu", "cpuset"}) {
      if (!mounts->mountFor(c)) {
        COLO_SKIP_OR_FAIL(std::string("no cgroup hierarchy carries ") + c);
      }
    }
    if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) {
      COLO_SKIP_OR_FAIL("needs 2 CPUs");
    }
    auto tree = TestCgroupTree::create("enforce", {"cpu", "cpuacct", "cpuset", "memory"});
    if (!tree) {
      COLO_SKIP_OR_FAIL("cannot create test cgroups: " + tree.error().message());
    }
    tree_.emplace(std::move(*tree));
    dir_ = "/tmp/" + tree_->topName();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    socket_ = dir_ + "/colod.sock";
    log_ = dir_ + "/colod.log";
    state_dir_ = dir_ + "/state";
    pin_dir_ = fmt::format("/sys/fs/bpf/{}", tree_->topName());
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

  void makeContainers(const std::vector<std::string>& containers) {
    for (const auto& c : containers) {
      ASSERT_TRUE(tree_->mkdir(c));
    }
    if (tree_->version() == CgroupVersion::kV2) {
      // v2: controllers enabled at every level above the containers.
      std::set<std::string> parents;
      for (const auto& c : containers) {
        for (auto p = std::filesystem::path(c).parent_path(); !p.empty(); p = p.parent_path()) {
          parents.insert(p.string());
        }
      }
      for (const auto& d : parents) {
        ASSERT_TRUE(fs_.writeFile(tree_->path("cpu", d) + "/cgroup.subtree_control",
                                  "+cpu +cpuset +memory"));
      }
    }
  }

  std::string file(const std::string& controller, const std::string& rel, const std::string& name) {
    return tree_->path(controller, rel) + "/" + name;
  }
  std::string read(const std::string& controller, const std::string& rel, const std::string& name) {
    return trimmed(fs_.readFile(file(controller, rel, name)).value_or("<unreadable>"));
  }
  bool v2() const { return tree_->version() == CgroupVersion::kV2; }
  // The knob colod sets on a BE pod: cpu.idle where the kernel has it, else the lowest weight.
  std::pair<std::string, std::string> beKnob() {
    if (fs_.exists(file("cpu", kBePod, "cpu.idle"))) {
      return {"cpu.idle", "1"};
    }
    return v2() ? std::pair<std::string, std::string>{"cpu.weight", "1"}
                : std::pair<std::string, std::string>{"cpu.shares", "2"};
  }

  // Every knob colod may touch on `containers` and their pods and QoS dirs, with its value now.
  std::map<std::string, std::string> knobValues(const std::vector<std::string>& containers) {
    std::set<std::string> dirs;
    for (const auto& c : containers) {
      for (auto p = std::filesystem::path(c); !p.empty(); p = p.parent_path()) {
        dirs.insert(p.string());
      }
    }
    std::map<std::string, std::string> out;
    for (const auto& d : dirs) {
      for (const char* name : {"cpu.idle", "cpu.shares", "cpu.weight", "cpu.cfs_quota_us",
                               "cpu.max", "cpu.cfs_burst_us", "cpu.max.burst"}) {
        std::string p = file("cpu", d, name);
        if (fs_.exists(p)) {
          out[p] = trimmed(fs_.readFile(p).value_or("?"));
        }
      }
      std::string cs = file("cpuset", d, "cpuset.cpus");
      if (fs_.exists(cs)) {
        out[cs] = trimmed(fs_.readFile(cs).value_or("?"));
      }
      for (const char* name : {"memory.soft_limit_in_bytes", "memory.high"}) {
        std::string p = file("memory", d, name);
        if (fs_.exists(p)) {
          out[p] = trimmed(fs_.readFile(p).value_or("?"));
        }
      }
    }
    return out;
  }

  // knobValues() after colod restored them, to compare with `before`. One difference is the
  // kernel's: on v2 a BE cpuset that was empty (inheriting its parent's CPUs) and that colod
  // narrowed cannot be emptied again while the cgroup holds tasks (ENOSPC), so colod gives it
  // its parent's CPUs, which place the tasks the same way. Such a value reads as "" here; every
  // other knob, the LS cpusets included, must be exactly as before.
  std::map<std::string, std::string> restoredKnobValues(
      const std::vector<std::string>& containers,
      const std::map<std::string, std::string>& before) {
    auto now = knobValues(containers);
    if (!v2()) {
      return now;
    }
    for (const std::string& rel : {kBePod, kBe}) {
      std::string p = file("cpuset", rel, "cpuset.cpus");
      auto b = before.find(p);
      auto n = now.find(p);
      if (b == before.end() || n == now.end() || !b->second.empty()) {
        continue;
      }
      std::string parent = std::filesystem::path(rel).parent_path().string();
      if (cpuList(n->second) == cpuList(read("cpuset", parent, "cpuset.cpus.effective"))) {
        n->second = "";
      }
    }
    return now;
  }

  void startColod(const std::string& config, std::vector<std::string> extra = {}) {
    std::ofstream(dir_ + "/colod.yaml") << config;
    std::vector<std::string> args = {
        "--cgroup_root=/" + tree_->topName() + "/kubepods",
        "--api_socket=" + socket_,
        "--pin_dir=" + pin_dir_,
        "--state_dir=" + state_dir_,
        "--feature_probe_cgroup=" + tree_->topName() + "-probe",
        "--tick_ms=200",
        "--config=" + dir_ + "/colod.yaml",
    };
    args.insert(args.end(), extra.begin(), extra.end());
    colod_.emplace(args, log_);
    ASSERT_GT(colod_->pid(), 0);
    ASSERT_TRUE(pollUntil([&] { return healthStatus() == 200 || !colod_->running(); }, seconds(30)))
        << "colod did not become healthy";
    ASSERT_TRUE(colod_->running()) << "colod exited at start";
  }

  int healthStatus() { return test::apiStatus(socket_, "/healthz"); }
  std::optional<json> get(const std::string& path) { return test::apiJson(socket_, path); }

  std::optional<json> controller(const std::string& name) {
    auto c = get("/v1/controllers");
    if (!c) {
      return std::nullopt;
    }
    for (const auto& x : (*c)["controllers"]) {
      if (x.value("name", "") == name) {
        return x;
      }
    }
    return std::nullopt;
  }

  static std::string cpusAllowed(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Cpus_allowed_list:", 0) == 0) {
        return trimmed(line.substr(line.find(':') + 1));
      }
    }
    return "";
  }

  RealFs fs_;
  std::optional<TestCgroupTree> tree_;
  std::optional<Colod> colod_;
  std::string dir_, socket_, log_, state_dir_, pin_dir_;
};

const char* kPolicyConfig =
    "policy:\n"
    "  be_cpu: {safety_watermark: 1.0}\n";

TEST_F(ColodEnforceE2e, TiersMapToTheirKnobsAndQosDirsStayUntouched) {
  makeContainers({kBe, kLs});
  auto be_sleeper = tree_->spawn(kBe, {"sleep", "600"});
  auto ls_sleeper = tree_->spawn(kLs, {"sleep", "600"});
  ASSERT_TRUE(be_sleeper && ls_sleeper);
  auto before = knobValues({kBe, kLs});
  auto [knob, value] = beKnob();
  startColod(kPolicyConfig);

  ASSERT_TRUE(pollUntil([&] { return read("cpu", kBePod, knob) == value; }, seconds(20)))
      << "BE pod " << knob << " = " << read("cpu", kBePod, knob);
  // The BE container runs on the plan's BE cpus (v2: an empty cpuset.cpus that inherits them
  // is left so).
  std::string effective = v2() ? "cpuset.cpus.effective" : "cpuset.cpus";
  ASSERT_TRUE(pollUntil(
      [&] {
        auto c = get("/v1/controllers");
        if (!c || !c->contains("be_cpus")) {
          return false;
        }
        std::set<int> plan((*c)["be_cpus"].begin(), (*c)["be_cpus"].end());
        return !plan.empty() && cpuList(read("cpuset", kBe, effective)) == plan;
      },
      seconds(20)))
      << "BE cpuset " << read("cpuset", kBe, "cpuset.cpus");
  // LS runs on the shared pool, every CPU here, as it did: its cpusets are not written (on v2
  // an empty one stays empty).
  for (const std::string& dir : {kLsPod, kLs}) {
    EXPECT_EQ(read("cpuset", dir, "cpuset.cpus"), before[file("cpuset", dir, "cpuset.cpus")])
        << dir;
  }
  // Kubelet's QoS directories and the LS pod keep their scheduling knobs.
  for (const std::string& dir : {std::string("kubepods"), std::string("kubepods/besteffort"),
                                 std::string("kubepods/burstable"), kLsPod, kLs}) {
    for (const char* name : {"cpu.idle", "cpu.shares", "cpu.weight"}) {
      std::string p = file("cpu", dir, name);
      if (before.count(p) != 0) {
        EXPECT_EQ(read("cpu", dir, name), before[p]) << p;
      }
    }
  }
  // The API explains what it did.
  auto node = get("/v1/node");
  ASSERT_TRUE(node);
  EXPECT_TRUE((*node)["capacity"].contains("be_cpu_millicores")) << node->dump();
  EXPECT_EQ((*node)["enforce"], true);
  EXPECT_EQ((*node)["backend"]["cpu_hierarchy"], v2() ? "v2" : "v1");
  auto containers = get("/v1/containers");
  ASSERT_TRUE(containers);
  ASSERT_TRUE(pollUntil(
      [&] {
        auto c = get("/v1/containers");
        for (const auto& x : (*c)["containers"]) {
          if (x["profile"].is_object() && x["profile"].contains("recommended_request_cores")) {
            return true;
          }
        }
        return false;
      },
      seconds(10)));
  auto m = get("/v1/controllers");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["frozen"], false) << m->dump();
}

TEST_F(ColodEnforceE2e, SigtermRestoresEveryKnob) {
  makeContainers({kBe, kLs});
  ASSERT_TRUE(tree_->spawn(kBe, {"sleep", "600"}));
  ASSERT_TRUE(tree_->spawn(kLs, {"sleep", "600"}));
  auto before = knobValues({kBe, kLs});
  auto [knob, value] = beKnob();
  startColod(kPolicyConfig);
  ASSERT_TRUE(pollUntil([&] { return read("cpu", kBePod, knob) == value; }, seconds(20)));
  ASSERT_NE(before[file("cpu", kBePod, knob)], value) << "the test needs a knob that changes";
  ::kill(colod_->pid(), SIGTERM);
  auto status = colod_->waitExit(seconds(20));
  ASSERT_TRUE(status) << "colod did not exit on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
  EXPECT_EQ(restoredKnobValues({kBe, kLs}, before), before);
}

TEST_F(ColodEnforceE2e, Kill9ThenRestartRestoresThePreColoKnobs) {
  makeContainers({kBe, kLs});
  ASSERT_TRUE(tree_->spawn(kBe, {"sleep", "600"}));
  ASSERT_TRUE(tree_->spawn(kLs, {"sleep", "600"}));
  auto before = knobValues({kBe, kLs});
  auto [knob, value] = beKnob();
  startColod(kPolicyConfig);
  // Kill it as soon as its first writes land (mid-adjustment).
  ASSERT_TRUE(pollUntil([&] { return read("cpu", kBePod, knob) == value; }, seconds(20)));
  colod_->killHard();
  EXPECT_EQ(read("cpu", kBePod, knob), value) << "a dead colod leaves its knobs behind";
  // Restart dry (enforce: false): the start-up reconcile alone must put everything back.
  std::error_code ec;
  std::filesystem::remove(socket_, ec);
  startColod(kPolicyConfig, {"--enforce=false"});
  auto c = get("/v1/controllers");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["reconcile"]["had_crashed_run"], true) << c->dump();
  EXPECT_GT((*c)["reconcile"]["restored"].get<int>(), 0) << c->dump();
  EXPECT_EQ(restoredKnobValues({kBe, kLs}, before), before);
  // A dry colod writes nothing.
  std::this_thread::sleep_for(milliseconds(600));  // three ticks, to show nothing happens
  EXPECT_EQ(restoredKnobValues({kBe, kLs}, before), before);
}

// The EEVDF slice of a task, in ns (sched_getattr); 0 when it cannot be read.
uint64_t sliceOf(pid_t pid) {
  auto a = kmods::realSchedOps().get(pid);
  return a ? a->slice_ns : 0;
}

TEST_F(ColodEnforceE2e, BeTasksGetALongSliceAndItComesBackAfterSigtermAndAfterACrash) {
  auto base = kmods::probeCustomSlice();
  if (!base) {
    COLO_SKIP_OR_FAIL(
        "this kernel takes no custom EEVDF slice (sched_setattr sched_runtime, 6.12+)");
  }
  constexpr uint64_t kBeSlice = 100'000'000;
  const std::string config = "policy:\n  be_cpu: {safety_watermark: 1.0, task_slice_us: 100000}\n";
  constexpr uint64_t kOwnSlice = 5'000'000;
  makeContainers({kBe, kLs});
  auto be = tree_->spawn(kBe, {"sleep", "600"});
  auto be_own = tree_->spawn(kBe, {"sleep", "600"});
  auto ls = tree_->spawn(kLs, {"sleep", "600"});
  ASSERT_TRUE(be && be_own && ls);
  // A BE task whose slice someone else chose: colo leaves it alone.
  auto own = kmods::realSchedOps().get(*be_own);
  ASSERT_TRUE(own);
  ASSERT_TRUE(kmods::realSchedOps().set(*be_own, *own, kOwnSlice));
  ASSERT_EQ(sliceOf(*be), *base);
  startColod(config);
  ASSERT_TRUE(pollUntil([&] { return sliceOf(*be) == kBeSlice; }, seconds(20)))
      << "BE task slice " << sliceOf(*be);
  EXPECT_EQ(sliceOf(*ls), *base) << "an LS task's slice changed";
  EXPECT_EQ(sliceOf(*be_own), kOwnSlice) << "a slice colo did not set was changed";
  // A process moved into the container later (not a child of a task already there) is caught
  // by the rescan.
  auto late = tree_->spawn(kBe, {"sleep", "600"});
  ASSERT_TRUE(late);
  ASSERT_TRUE(pollUntil([&] { return sliceOf(*late) == kBeSlice; }, seconds(10)))
      << "late BE task slice " << sliceOf(*late);
  auto ts = get("/v1/controllers");
  ASSERT_TRUE(ts);
  EXPECT_GE((*ts)["task_slice"]["tasks"].get<int>(), 2) << ts->dump();
  EXPECT_EQ((*ts)["task_slice"]["slice_ns"].get<uint64_t>(), kBeSlice) << ts->dump();

  // kill -9: the slices stay; a restart (dry) puts them back from the record.
  colod_->killHard();
  EXPECT_EQ(sliceOf(*be), kBeSlice) << "a dead colod leaves its slices behind";
  std::error_code ec;
  std::filesystem::remove(socket_, ec);
  startColod(config, {"--enforce=false"});
  EXPECT_EQ(sliceOf(*be), *base);
  EXPECT_EQ(sliceOf(*late), *base);
  EXPECT_EQ(sliceOf(*be_own), kOwnSlice);
  auto c = get("/v1/controllers");
  ASSERT_TRUE(c);
  EXPECT_GE((*c)["task_slice"]["reconciled"].get<int>(), 2) << c->dump();
  colod_.reset();  // SIGTERM

  // Enforcing again, then SIGTERM: back to the default.
  std::filesystem::remove(socket_, ec);
  startColod(config);
  ASSERT_TRUE(pollUntil([&] { return sliceOf(*be) == kBeSlice; }, seconds(20)));
  ::kill(colod_->pid(), SIGTERM);
  auto status = colod_->waitExit(seconds(20));
  ASSERT_TRUE(status) << "colod did not exit on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
  EXPECT_EQ(sliceOf(*be), *base);
  EXPECT_EQ(sliceOf(*late), *base);
  EXPECT_EQ(sliceOf(*ls), *base);
  EXPECT_EQ(sliceOf(*be_own), kOwnSlice);
}

TEST_F(ColodEnforceE2e, BeTaskSliceIsOffByDefaultAndLeavesEveryTaskAlone) {
  auto base = kmods::probeCustomSlice();
  if (!base) {
    COLO_SKIP_OR_FAIL(
        "this kernel takes no custom EEVDF slice (sched_setattr sched_runtime, 6.12+)");
  }
  makeContainers({kBe, kLs});
  auto be = tree_->spawn(kBe, {"sleep", "600"});
  ASSERT_TRUE(be);
  auto [knob, value] = beKnob();
  startColod(kPolicyConfig);  // no task_slice_us: off
  ASSERT_TRUE(pollUntil([&] { return read("cpu", kBePod, knob) == value; }, seconds(20)));
  std::this_thread::sleep_for(milliseconds(1500));  // past a rescan, to show nothing happens
  EXPECT_EQ(sliceOf(*be), *base);
  auto c = get("/v1/controllers");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["task_slice"]["slice_ns"].get<uint64_t>(), 0u) << c->dump();
  EXPECT_EQ((*c)["task_slice"]["set"].get<uint64_t>(), 0u) << c->dump();
}

// An LS container throttled by its own CPU limit gets burst (the kernel's CFS burst), and loses
// it again once calm: the throttle-relief controller end to end, through the collector's
// throttling figures and the executor.
TEST_F(ColodEnforceE2e, ThrottledLsContainerGetsBurstAndLosesItWhenCalm) {
  makeContainers({kLs});
  const std::string burst_knob = v2() ? "cpu.max.burst" : "cpu.cfs_burst_us";
  if (!fs_.exists(file("cpu", kLs, burst_knob))) {
    COLO_SKIP_OR_FAIL("no " + burst_knob + " (CFS burst, Linux 5.14+)");
  }
  // A 0.2-core limit, and a busy loop that wants a whole core: throttled nearly every period.
  if (v2()) {
    ASSERT_TRUE(fs_.writeFile(file("cpu", kLs, "cpu.max"), "20000 100000"));
  } else {
    ASSERT_TRUE(fs_.writeFile(file("cpu", kLs, "cpu.cfs_quota_us"), "20000"));
  }
  const std::string before = read("cpu", kLs, burst_knob);
  ASSERT_EQ(before, "0");
  auto busy = tree_->spawn(kLs, {"sh", "-c", "while :; do :; done"});
  ASSERT_TRUE(busy);
  startColod(kPolicyConfig);
  // burst = burst_fraction (1.0) x the 20 ms quota per 100 ms period.
  ASSERT_TRUE(pollUntil([&] { return read("cpu", kLs, burst_knob) == "20000"; }, seconds(20)))
      << burst_knob << " = " << read("cpu", kLs, burst_knob);
  auto relief = controller("ls-throttle-relief");
  ASSERT_TRUE(relief);
  EXPECT_GE((*relief)["grants"].get<int>(), 1) << relief->dump();
  // Calm (the load gone) for revert_calm_ticks: the burst goes back to its value before colo.
  tree_->kill(*busy);
  ASSERT_TRUE(pollUntil([&] { return read("cpu", kLs, burst_knob) == before; }, seconds(20)))
      << burst_knob << " = " << read("cpu", kLs, burst_knob);
  relief = controller("ls-throttle-relief");
  ASSERT_TRUE(relief);
  EXPECT_GE((*relief)["reverts"].get<int>(), 1) << relief->dump();
}

TEST_F(ColodEnforceE2e, LsxCoresCarryNoBeTask) {
  makeContainers({kBe, kLs, kLsx});
  // The BE hog asks for every CPU; it must leave the LSX core once the plan is in force.
  auto hog = tree_->spawn(kBe, {"sh", "-c", "while :; do :; done"});
  ASSERT_TRUE(hog) << hog.error().message();
  ASSERT_TRUE(tree_->spawn(kLsx, {"sleep", "600"}));
  std::string config = fmt::format("tier_rules:\n  - {{match: /{}/{}, tier: LSX}}\n{}",
                                   tree_->topName(), kLsx, kPolicyConfig);
  startColod(config);
  std::set<int> lsx_cpus;
  ASSERT_TRUE(pollUntil(
      [&] {
        auto c = get("/v1/controllers");
        if (!c) {
          return false;
        }
        auto lsx = (*c)["pools"]["lsx"];
        if (!lsx.is_array() || lsx.empty()) {
          return false;
        }
        lsx_cpus = std::set<int>(lsx.begin(), lsx.end());
        return cpuList(read("cpuset", kLsx, "cpuset.cpus")) == lsx_cpus;
      },
      seconds(20)))
      << "LSX cpuset " << read("cpuset", kLsx, "cpuset.cpus") << "; controllers "
      << (get("/v1/controllers") ? get("/v1/controllers")->dump() : "?");
  ASSERT_TRUE(pollUntil(
      [&] {
        std::set<int> be = cpuList(read("cpuset", kBe, "cpuset.cpus"));
        std::set<int> allowed = cpuList(cpusAllowed(*hog));
        for (int c : lsx_cpus) {
          if (be.count(c) != 0 || allowed.count(c) != 0) {
            return false;
          }
        }
        return !be.empty() && !allowed.empty();
      },
      seconds(20)))
      << "BE cpuset " << read("cpuset", kBe, "cpuset.cpus") << ", hog Cpus_allowed_list "
      << cpusAllowed(*hog);
  // And it stays off them: the kernel reports where it last ran (field 39 of /proc/pid/stat).
  for (int i = 0; i < 10; ++i) {
    std::string stat = slurp(fmt::format("/proc/{}/stat", *hog));
    std::stringstream ss(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int f = 3; f <= 39 && ss >> field; ++f) {
    }
    EXPECT_EQ(lsx_cpus.count(std::stoi(field)), 0u) << "BE hog ran on an LSX CPU";
    std::this_thread::sleep_for(milliseconds(100));
  }
}

// kubepods seen through a read-only bind mount of itself, as a container without the right to
// write cgroupfs sees it: every write colod tries fails (EROFS). Works on v1 and v2.
class ReadOnlyCgroups {
 public:
  explicit ReadOnlyCgroups(std::vector<std::string> dirs) {
    for (auto& d : dirs) {
      if (::mount(d.c_str(), d.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        error_ = "bind " + d + ": " + std::strerror(errno);
        return;
      }
      mounted_.push_back(d);
      if (::mount(nullptr, d.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
        error_ = "remount read-only " + d + ": " + std::strerror(errno);
        return;
      }
    }
  }
  ~ReadOnlyCgroups() {
    for (auto it = mounted_.rbegin(); it != mounted_.rend(); ++it) {
      ::umount2(it->c_str(), MNT_DETACH);
    }
  }
  ReadOnlyCgroups(const ReadOnlyCgroups&) = delete;
  ReadOnlyCgroups& operator=(const ReadOnlyCgroups&) = delete;
  const std::string& error() const { return error_; }

 private:
  std::vector<std::string> mounted_;
  std::string error_;
};

TEST_F(ColodEnforceE2e, FreezesWhenCgroupfsRefusesWritesAndSaysWhy) {
  makeContainers({kBe, kLs});
  ASSERT_TRUE(tree_->spawn(kBe, {"sleep", "600"}));
  ASSERT_TRUE(tree_->spawn(kLs, {"sleep", "600"}));
  std::set<std::string> dirs;
  for (const char* c : {"cpu", "cpuset", "memory"}) {
    dirs.insert(tree_->path(c, "kubepods"));
  }
  ReadOnlyCgroups read_only({dirs.begin(), dirs.end()});
  ASSERT_EQ(read_only.error(), "");
  ASSERT_FALSE(fs_.writeFile(file("cpu", kBePod, v2() ? "cpu.weight" : "cpu.shares"), "50"))
      << "the bind mount should refuse writes";
  startColod(kPolicyConfig);
  std::string why;
  ASSERT_TRUE(pollUntil(
      [&] {
        auto c = get("/v1/controllers");
        if (!c || (*c)["frozen"] != true) {
          return false;
        }
        why = c->dump();
        return true;
      },
      seconds(30)))
      << (get("/v1/controllers") ? get("/v1/controllers")->dump() : "no API");
  EXPECT_NE(why.find("cgroupfs"), std::string::npos) << why;
  auto metrics_body = test::apiGet(socket_, "/metrics");
  ASSERT_TRUE(metrics_body);
  const std::string& metrics = *metrics_body;
  EXPECT_NE(metrics.find("colo_policy_frozen 1"), std::string::npos);
  EXPECT_NE(metrics.find("colo_executor_frozen 1"), std::string::npos);
}

TEST_F(ColodEnforceE2e, LatencyGuardSqueezesBeWhenLsSuffersAndReleasesAfter) {
  makeContainers({kBe, kLs, kLs2});
  std::set<int> online = cpuList(slurp("/sys/devices/system/cpu/online"));
  int cpu = *online.begin();
  // The LS probe wakes every 1 ms on `cpu`; an LS hog on the same CPU makes it wait for whole
  // slices (ms), far over the 1 ms threshold; a BE hog runs too.
  // kubelet gives its besteffort directory the lowest weight; without it the BE hog competes
  // with LS at the kubepods level, where a pod-level cpu.idle does not reach.
  ASSERT_TRUE(fs_.writeFile(file("cpu", "kubepods/besteffort", v2() ? "cpu.weight" : "cpu.shares"),
                            v2() ? "1" : "2"));
  // The machine's other load (parallel builds at the root) must weigh little against the test
  // tree, or the probe never goes calm: as scripts/bench-kmods.sh does.
  ASSERT_TRUE(fs_.writeFile(file("cpu", "", v2() ? "cpu.weight" : "cpu.shares"),
                            v2() ? "10000" : "262144"));
  // The probe's pod at the lowest weight (as kubelet gives a pod with a tiny CPU request):
  // a probe that sleeps 1 ms between wakeups otherwise often preempts the hog at once under
  // EEVDF (it wakes with lag to spare), waits ~100 µs, and the guard has nothing to see.
  ASSERT_TRUE(
      fs_.writeFile(file("cpu", kLsPod, v2() ? "cpu.weight" : "cpu.shares"), v2() ? "1" : "2"));
  auto be_hog = tree_->spawn(kBe, {"sh", "-c", "while :; do :; done"});
  ASSERT_TRUE(be_hog);
  auto probe = tree_->spawn(kLs, {WAKEUP_BIN, "--cpu", std::to_string(cpu), "--interval-us", "1000",
                                  "--work-us", "50", "--duration-s", "600", "--out", "/dev/null"});
  ASSERT_TRUE(probe);
  auto ls_hog = tree_->spawn(kLs2, {"sh", "-c", "while :; do :; done"}, cpu);
  ASSERT_TRUE(ls_hog);
  std::string config = std::string("latency_thresholds_us: {LS: 1000}\n") + kPolicyConfig +
                       "  latency_guard: {release_hold_ticks: 2}\n";
  startColod(config, {"--window_ticks=10"});  // 2 s run-queue window: calm shows soon
  json guard;
  ASSERT_TRUE(pollUntil(
      [&] {
        auto g = controller("latency-guard");
        if (!g) {
          return false;
        }
        guard = *g;
        return (*g)["limit_cpus"].is_number() &&
               (*g)["squeezes"].get<int>() + (*g)["event_squeezes"].get<int>() > 0;
      },
      seconds(30)))
      << (controller("latency-guard") ? controller("latency-guard")->dump() : "?");
  // Squeezed: the BE cpuset in the cgroup file is within the guard's limit.
  ASSERT_TRUE(pollUntil(
      [&] {
        auto g = controller("latency-guard");
        if (!g || !(*g)["limit_cpus"].is_number()) {
          return false;
        }
        size_t n = cpuList(read("cpuset", kBe, "cpuset.cpus")).size();
        return n >= 1 && n <= static_cast<size_t>((*g)["limit_cpus"].get<double>());
      },
      seconds(10)))
      << "BE cpuset " << read("cpuset", kBe, "cpuset.cpus") << " guard " << guard.dump();
  EXPECT_LT(cpuList(read("cpuset", kBe, "cpuset.cpus")).size(), online.size());
  // The hog stops: the guard starts to let go (a release step, or no limit at all) after its
  // hold. (The machine's other load may keep the probe near its threshold, so only the first
  // step is asserted.)
  tree_->kill(*ls_hog);
  ASSERT_TRUE(pollUntil(
      [&] {
        auto g = controller("latency-guard");
        return g && ((*g)["limit_cpus"].is_null() || (*g)["releases"].get<int>() > 0);
      },
      seconds(60)))
      << (controller("latency-guard") ? controller("latency-guard")->dump() : "?");
}

}  // namespace
}  // namespace colo
