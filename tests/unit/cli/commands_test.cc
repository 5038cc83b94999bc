// The commands end to end over fakes: what an operator sees, and the --json shapes scripts
// rely on.
#include "cli/commands.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cmd_policy.h"
#include "cli/top.h"
#include "unit/cli/fakes.h"

namespace colo::cli {
namespace {

using nlohmann::json;
using test::statsFor;
using test::World;

class MapsWorld : public ::testing::Test {
 protected:
  void SetUp() override {
    ls_ = w_.cgroup("/kubepods/burstable/podu1/c1");
    be_ = w_.cgroup("/kubepods/besteffort/podu2/c2");
    host_ = w_.cgroup("/system.slice/redis.service");
    auto s = statsFor(ls_, 100, 13);  // [8.19µs, 16.4µs)
    s.hist[20] = 2;                   // two slow delays, [1.05ms, 2.10ms)
    s.count = 102;
    s.max_ns = 1500000;
    s.preemptions = 7;
    s.involuntary_switches = 6;
    s.waited_behind_lower = 5;
    s.over_threshold = 1;
    w_.maps.stats = {s, statsFor(be_, 50, 16), statsFor(host_, 3, 9)};
    w_.maps.tiers = {{{bpf::Hierarchy::kV1Cpu, ls_}, bpf::Tier::kLS},
                     {{bpf::Hierarchy::kV1Cpu, be_}, bpf::Tier::kBE}};
    w_.maps.thresholds[static_cast<size_t>(bpf::Tier::kLS)] = 2000000;
    w_.maps.counters.storage_errors = 3;
  }
  World w_;
  uint64_t ls_ = 0, be_ = 0, host_ = 0;
};

TEST_F(MapsWorld, MapsTable) {
  ASSERT_EQ(w_.run({"maps", "--pin_dir=/x"}), kExitOk) << w_.err.str();
  EXPECT_EQ(w_.opened_pin_dirs, std::vector<std::string>{"/x"});
  std::string out = w_.out.str();
  EXPECT_NE(out.find("pinned maps at /x: 3 cgroups"), std::string::npos) << out;
  EXPECT_NE(out.find("CGROUP_ID  HIER    TIER  CONTAINER/PATH"), std::string::npos) << out;
  EXPECT_NE(out.find("podu1/c1"), std::string::npos);
  EXPECT_NE(out.find("/system.slice/redis.service"), std::string::npos);
  EXPECT_NE(out.find("thresholds:  BE off  LS 2.00ms  LSR off  LSX off"), std::string::npos) << out;
  EXPECT_NE(out.find("storage_errors 3"), std::string::npos);
  // The LS row: count 102, p50 16.4µs (upper bound of its bucket), p99 2.10ms.
  auto line_start = out.find(fmt::format("{}  v1-cpu  LS", ls_));
  ASSERT_NE(line_start, std::string::npos) << out;
  std::string line = out.substr(line_start, out.find('\n', line_start) - line_start);
  EXPECT_NE(line.find("102"), std::string::npos) << line;
  EXPECT_NE(line.find("1.50ms"), std::string::npos) << line;
  EXPECT_NE(line.find("16.4µs"), std::string::npos) << line;
  EXPECT_NE(line.find("2.10ms"), std::string::npos) << line;
}

TEST_F(MapsWorld, MapsJsonShape) {
  ASSERT_EQ(w_.run({"maps", "--json"}), kExitOk) << w_.err.str();
  json doc = json::parse(w_.out.str());
  EXPECT_EQ(doc["pin_dir"], "/sys/fs/bpf/colo");
  ASSERT_EQ(doc["cgroups"].size(), 3u);
  json ls;
  for (const auto& c : doc["cgroups"]) {
    for (const char* key : {"cgroup_id",
                            "hierarchy",
                            "tier",
                            "path",
                            "gone",
                            "id",
                            "name",
                            "pod_uid",
                            "container_id",
                            "qos",
                            "count",
                            "sum_ns",
                            "mean_ns",
                            "max_ns",
                            "p50_ns",
                            "p99_ns",
                            "hist",
                            "preemptions",
                            "involuntary_switches",
                            "waited_behind_lower",
                            "over_threshold"}) {
      EXPECT_TRUE(c.contains(key)) << key;
    }
    if (c["cgroup_id"] == ls_) {
      ls = c;
    }
  }
  ASSERT_FALSE(ls.is_null());
  EXPECT_EQ(ls["hierarchy"], "v1-cpu");
  EXPECT_EQ(ls["tier"], "LS");
  EXPECT_EQ(ls["path"], "/kubepods/burstable/podu1/c1");
  EXPECT_EQ(ls["path_source"], "walk");
  EXPECT_EQ(ls["name"], "podu1/c1");
  EXPECT_EQ(ls["pod_uid"], "u1");
  EXPECT_EQ(ls["count"], 102);
  EXPECT_EQ(ls["p50_ns"], 16384);
  EXPECT_EQ(ls["p99_ns"], 2097152);
  EXPECT_EQ(ls["hist"].size(), 36u);
  EXPECT_EQ(ls["waited_behind_lower"], 5);
  EXPECT_EQ(doc["thresholds_ns"]["LS"], 2000000);
  EXPECT_EQ(doc["thresholds_ns"]["BE"], 0);
  EXPECT_EQ(doc["counters"]["storage_errors"], 3);
  EXPECT_EQ(doc["counters"]["events_dropped_full"], 0);
}

TEST_F(MapsWorld, MapsHidesRemovedCgroupsUnlessAll) {
  w_.fs.remove(std::string(test::kCpuRoot) + "/system.slice/redis.service");
  ASSERT_EQ(w_.run({"maps", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(w_.out.str())["cgroups"].size(), 2u);
  ASSERT_EQ(w_.run({"maps", "--all"}), kExitOk);
  EXPECT_NE(w_.out.str().find("(removed)"), std::string::npos);
}

TEST_F(MapsWorld, MapsWithoutPinnedMapsExitsTwoWithAdvice) {
  w_.maps.open_error = ENOENT;
  EXPECT_EQ(w_.run({"maps", "--pin_dir=/nope"}), kExitSystem);
  EXPECT_NE(w_.err.str().find("no pinned maps at /nope: is colod running?"), std::string::npos)
      << w_.err.str();
  EXPECT_TRUE(w_.out.str().empty());
  w_.maps.open_error = EPERM;
  EXPECT_EQ(w_.run({"hist", "c1"}), kExitSystem);
  EXPECT_NE(w_.err.str().find("run as root"), std::string::npos);
}

TEST_F(MapsWorld, HistFromPinnedMaps) {
  ASSERT_EQ(w_.run({"hist", "c1"}), kExitOk) << w_.err.str();
  std::string out = w_.out.str();
  EXPECT_NE(out.find("run-queue delay of podu1/c1 (cgroup /kubepods/burstable/podu1/c1"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("tier LS"), std::string::npos);
  EXPECT_NE(out.find("102 delays"), std::string::npos);
  EXPECT_NE(out.find("[8.19µs, 16.4µs)    100    98.0%  |########################################"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("[1.05ms, 2.10ms)      2     2.0%  |#\n"), std::string::npos) << out;
}

TEST_F(MapsWorld, HistMatchesPathPodAndCgroupId) {
  EXPECT_EQ(w_.run({"hist", "/system.slice/redis.service"}), kExitOk) << w_.err.str();
  EXPECT_EQ(w_.run({"hist", fmt::format("{}", be_)}), kExitOk);
  EXPECT_NE(w_.out.str().find("podu2/c2"), std::string::npos);
  EXPECT_EQ(w_.run({"hist", "podu2/c2"}), kExitOk);
}

TEST_F(MapsWorld, HistJsonShape) {
  ASSERT_EQ(w_.run({"hist", "--json", "c1"}), kExitOk);
  json doc = json::parse(w_.out.str());
  EXPECT_EQ(doc["source"], "pinned");
  EXPECT_EQ(doc["container"]["name"], "podu1/c1");
  EXPECT_EQ(doc["container"]["cgroup_id"], ls_);
  EXPECT_EQ(doc["container"]["tier"], "LS");
  EXPECT_EQ(doc["total"], 102);
  EXPECT_EQ(doc["p99_ns"], 2097152);
  EXPECT_EQ(doc["buckets"].size(), 36u);
  EXPECT_EQ(doc["buckets"][13]["count"], 100);
}

TEST_F(MapsWorld, HistUnknownContainerIsUsageError) {
  EXPECT_EQ(w_.run({"hist", "nosuch"}), kExitUsage);
  EXPECT_NE(w_.err.str().find("no container matches \"nosuch\""), std::string::npos);
  EXPECT_EQ(w_.run({"hist", "c"}), kExitUsage);  // prefix of c1 and c2
  EXPECT_NE(w_.err.str().find("matches 2 containers"), std::string::npos) << w_.err.str();
}

constexpr const char* kAgentBody = R"({
  "node": "host-a", "tick_ms": 1000, "window_ticks": 60, "cgroup_version": 1,
  "attach_mode": "tp_btf",
  "containers": [
    {"id": "web1", "name": "podu1/web1", "pod_uid": "u1", "tier": "LS",
     "cgroup": "/kubepods/burstable/podu1/web1", "cgroup_id": 11,
     "cpu": {"usage_cores": 0.50, "throttled_pct": 10.0},
     "memory": {"working_set_bytes": 67108864, "usage_bytes": 100663296,
                "inactive_file_bytes": 33554432},
     "runq": {"p50_ns": 8192, "p99_ns": 262144},
     "hist_window": [0,0,0,0,0,0,0,0,0,0,0,0,5,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],
     "waited_behind_lower": 40, "waited_behind_lower_delta": 2},
    {"id": "batch1", "name": "podu2/batch1", "pod_uid": "u2", "tier": "BE",
     "cgroup": "/kubepods/besteffort/podu2/batch1", "cgroup_id": 12,
     "cpu": {"usage_cores": 1.75, "throttled_pct": 0.0}, "memory": null,
     "runq": {"p50_ns": 65536, "p99_ns": 4194304},
     "hist_window": [], "waited_behind_lower": 0, "waited_behind_lower_delta": 0}
  ]})";

TEST(Top, IterationsSortAndJsonLines) {
  World w;
  w.agent.body = kAgentBody;
  ASSERT_EQ(w.run({"top", "--iterations=3", "--interval=250ms", "--json"}), kExitOk) << w.err.str();
  EXPECT_EQ(w.agent.gets, 3);
  EXPECT_EQ(w.sleeps_ms, (std::vector<int64_t>{250, 250}));
  std::istringstream lines(w.out.str());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    json doc = json::parse(line);
    EXPECT_EQ(doc["node"], "host-a");
    EXPECT_EQ(doc["sort"], "cpu");
    ASSERT_EQ(doc["containers"].size(), 2u);
    EXPECT_EQ(doc["containers"][0]["id"], "batch1");  // more CPU first
    const auto& web = doc["containers"][1];
    for (const char* key : {"id", "name", "pod_uid", "tier", "cgroup", "cgroup_id", "cpu_cores",
                            "memory_working_set_bytes", "throttled_pct", "runq_p50_ns",
                            "runq_p99_ns", "waited_behind_lower", "waited_behind_lower_delta"}) {
      EXPECT_TRUE(web.contains(key)) << key;
    }
    EXPECT_EQ(web["memory_working_set_bytes"], 67108864);
    EXPECT_TRUE(doc["containers"][0]["memory_working_set_bytes"].is_null()) << "unknown: null";
    EXPECT_EQ(web["runq_p99_ns"], 262144);
    EXPECT_DOUBLE_EQ(web["throttled_pct"].get<double>(), 10.0);
    EXPECT_EQ(web["waited_behind_lower"], 40);
  }
  EXPECT_EQ(n, 3);
}

TEST(Top, TableRedrawsInPlaceOnATerminal) {
  World w;
  w.agent.body = kAgentBody;
  w.env.stdout_is_tty = true;
  ASSERT_EQ(w.run({"top", "--iterations=2", "--sort=throttled"}), kExitOk) << w.err.str();
  std::string out = w.out.str();
  EXPECT_EQ(out.rfind("\x1b[H\x1b[2J", 0), 0u);  // each frame starts with home + clear
  EXPECT_NE(out.find("\x1b[H\x1b[2J", 1), std::string::npos);
  EXPECT_NE(out.find("colod on host-a  cgroup v1  attach tp_btf  tick 1000ms  2 containers  "
                     "sorted by throttled"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("CONTAINER     TIER   CPU     MEM  RUNQ_P50  RUNQ_P99  THROTTLED  "
                     "BEHIND_LOWER  /TICK"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("podu1/web1    LS    0.50  64.0Mi    8.19µs     262µs      10.0%            "
                     "40      2"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("podu2/batch1  BE    1.75       -"), std::string::npos)
      << "unknown memory: -\n"
      << out;
  EXPECT_LT(out.find("podu1/web1"), out.find("podu2/batch1"));  // more throttled first
}

TEST(Top, NoAnsiWhenNotATerminal) {
  World w;
  w.agent.body = kAgentBody;
  ASSERT_EQ(w.run({"top", "--iterations=1"}), kExitOk);
  EXPECT_EQ(w.out.str().find('\x1b'), std::string::npos);
}

TEST(Top, SortKeysAndLimit) {
  auto snap = parseContainers(kAgentBody);
  ASSERT_TRUE(snap);
  sortContainers(snap->containers, "p99");
  EXPECT_EQ(snap->containers[0].id, "batch1");
  sortContainers(snap->containers, "waited");
  EXPECT_EQ(snap->containers[0].id, "web1");
  sortContainers(snap->containers, "cpu");
  sortContainers(snap->containers, "mem");
  EXPECT_EQ(snap->containers[0].id, "web1") << "more memory first; unknown counts as 0";
  sortContainers(snap->containers, "tier");
  EXPECT_EQ(snap->containers[0].id, "web1");
  sortContainers(snap->containers, "name");
  EXPECT_EQ(snap->containers[0].id, "web1");
  EXPECT_EQ(topJson(*snap, "name", 1)["containers"].size(), 1u);
  World w;
  EXPECT_EQ(w.run({"top", "--interval=0"}), kExitUsage);
  EXPECT_NE(w.err.str().find("--interval must be at least 10ms"), std::string::npos);
  EXPECT_EQ(w.run({"top", "--sort=colour"}), kExitUsage);
  EXPECT_NE(w.err.str().find("unknown --sort column \"colour\""), std::string::npos);
}

TEST(Top, AgentDownExitsTwo) {
  World w;
  w.agent.connect_error = ENOENT;
  EXPECT_EQ(w.run({"top", "--iterations=1"}), kExitSystem);
  EXPECT_NE(w.err.str().find("colod is not running"), std::string::npos) << w.err.str();
  World bad;
  bad.agent.body = "<html>";
  EXPECT_EQ(bad.run({"top", "--iterations=1"}), kExitSystem);
}

TEST(Profile, TableShowsTheProfilesMemory) {
  json body = json::parse(R"({"containers": [
    {"id": "web1", "name": "podu1/web1", "tier": "LS",
     "profile": {"tier": "LS", "samples": 5, "cpu": {"p50": 0.1, "p95": 0.2, "p99": 0.3, "max": 0.4},
                 "recommended_request_cores": 0.25,
                 "memory": {"p95_bytes": 67108864.0, "max_bytes": 100663296.0}}},
    {"id": "batch1", "name": "podu2/batch1", "tier": "BE", "profile": null}]})");
  auto text = renderProfiles(body, "");
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_NE(text->find("MEM_P95  MEM_MAX"), std::string::npos) << *text;
  EXPECT_NE(text->find("64.0Mi   96.0Mi"), std::string::npos) << *text;
  EXPECT_NE(text->find("podu2/batch1"), std::string::npos) << *text;
}

TEST(HistWindow, FromTheAgent) {
  World w;
  w.agent.body = kAgentBody;
  ASSERT_EQ(w.run({"hist", "--window", "web"}), kExitOk) << w.err.str();
  std::string out = w.out.str();
  EXPECT_NE(out.find("window of the last 60 ticks (60.0s): 6 delays"), std::string::npos) << out;
  EXPECT_NE(out.find("[4.10µs, 8.19µs)"), std::string::npos) << out;
  EXPECT_NE(out.find("83.3%"), std::string::npos);
  ASSERT_EQ(w.run({"hist", "--window", "--json", "u1"}), kExitOk) << w.err.str();
  json doc = json::parse(w.out.str());
  EXPECT_EQ(doc["source"], "window");
  EXPECT_EQ(doc["total"], 6);
  EXPECT_EQ(doc["container"]["id"], "web1");
  EXPECT_EQ(w.run({"hist", "--window", "nope"}), kExitUsage);
}

}  // namespace
}  // namespace colo::cli
