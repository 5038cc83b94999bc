#include "agent/api.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

namespace colo::agent {
namespace {

using Json = nlohmann::json;

std::shared_ptr<Snapshot> sampleSnapshot() {
  auto s = std::make_shared<Snapshot>();
  s->node = "host-a";
  s->tick_ms = 1000;
  s->window_ticks = 60;
  s->cgroup_version = 1;
  s->attach_mode = "tp_btf";
  s->taken_ns = 5'000'000'000;
  ContainerView c;
  c.id = std::string(64, 'a');
  c.pod_uid = "6a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";
  c.name = "pod" + c.pod_uid + "/" + c.id;
  c.qos = "burstable";
  c.runtime = "containerd";
  c.tier = bpf::Tier::kLS;
  c.cgroup = "/kubepods/burstable/pod" + c.pod_uid + "/" + c.id;
  c.cgroup_id = 12345;
  c.have_cpu = true;
  c.usage_cores = 0.53;
  c.throttled_pct = 2.1;
  c.cpu = {530'000'000, 1000, 21, 123456789};
  c.psi = Pressure{1.5, 0.0};
  c.memory = MemoryUsage{104857600, 20971520, 83886080};
  c.runq_count = 123456;
  c.runq_delta_count = 321;
  c.runq_sum_ns = 15000ull * 123456;
  c.runq_max_ns = 4'000'000;
  c.mean_ns = 15000;
  c.p50_ns = 8192;
  c.p90_ns = 32768;
  c.p99_ns = 131072;
  c.hist_window[12] = 300;
  c.hist_window[16] = 21;
  c.preemptions = 10;
  c.involuntary_switches = 9;
  c.waited_behind_lower = 4;
  c.waited_behind_lower_delta = 1;
  s->containers.push_back(c);

  ContainerView host;  // outside Kubernetes: no PSI, no samples, no CPU reading yet
  host.id = host.name = host.cgroup = "/batch/\"odd\\name";
  host.tier = bpf::Tier::kBE;
  host.cgroup_id = 777;
  s->containers.push_back(host);
  s->stats.ticks = 42;
  s->stats.read_errors = 2;
  s->stats.cgroup_mkdir_events = 3;
  s->stats.probe = bpf::ProbeCounters{};
  return s;
}

http::Request get(std::string path) {
  http::Request r;
  r.method = "GET";
  r.path = std::move(path);
  return r;
}

TEST(ApiTest, ContainersJsonHasTheDocumentedShape) {
  auto snap = sampleSnapshot();
  Json j = Json::parse(renderContainersJson(*snap));
  EXPECT_EQ(j["node"], "host-a");
  EXPECT_EQ(j["tick_ms"], 1000);
  EXPECT_EQ(j["window_ticks"], 60);
  EXPECT_EQ(j["cgroup_version"], 1);
  EXPECT_EQ(j["attach_mode"], "tp_btf");
  ASSERT_EQ(j["containers"].size(), 2u);
  const Json& c = j["containers"][0];
  for (const char* key :
       {"id", "name", "pod_uid", "qos", "tier", "cgroup", "cgroup_id", "cpu", "psi", "memory",
        "runq", "hist_window", "preemptions", "involuntary_switches", "waited_behind_lower",
        "waited_behind_lower_delta", "over_threshold"}) {
    EXPECT_TRUE(c.contains(key)) << key;
  }
  EXPECT_EQ(c["id"], std::string(64, 'a'));
  EXPECT_EQ(c["tier"], "LS");
  EXPECT_EQ(c["qos"], "burstable");
  EXPECT_EQ(c["cgroup_id"], 12345);
  EXPECT_DOUBLE_EQ(c["cpu"]["usage_cores"].get<double>(), 0.53);
  EXPECT_DOUBLE_EQ(c["cpu"]["throttled_pct"].get<double>(), 2.1);
  EXPECT_EQ(c["cpu"]["nr_periods"], 1000);
  EXPECT_EQ(c["cpu"]["nr_throttled"], 21);
  EXPECT_EQ(c["cpu"]["throttled_ns"], 123456789);
  EXPECT_DOUBLE_EQ(c["psi"]["some_avg10"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(c["psi"]["full_avg10"].get<double>(), 0.0);
  EXPECT_EQ(c["memory"]["working_set_bytes"], 83886080);
  EXPECT_EQ(c["memory"]["usage_bytes"], 104857600);
  EXPECT_EQ(c["memory"]["inactive_file_bytes"], 20971520);
  const Json& rq = c["runq"];
  EXPECT_EQ(rq["count"], 123456);
  EXPECT_EQ(rq["delta_count"], 321);
  EXPECT_EQ(rq["mean_ns"], 15000);
  EXPECT_EQ(rq["max_ns"], 4000000);
  EXPECT_EQ(rq["p50_ns"], 8192);
  EXPECT_EQ(rq["p90_ns"], 32768);
  EXPECT_EQ(rq["p99_ns"], 131072);
  ASSERT_EQ(c["hist_window"].size(), 36u);
  EXPECT_EQ(c["hist_window"][12], 300);
  EXPECT_EQ(c["waited_behind_lower"], 4);
  EXPECT_EQ(c["waited_behind_lower_delta"], 1);

  const Json& h = j["containers"][1];
  EXPECT_EQ(h["pod_uid"], "");
  EXPECT_EQ(h["qos"], "");
  EXPECT_EQ(h["tier"], "BE");
  EXPECT_TRUE(h["psi"].is_null());
  EXPECT_TRUE(h["cpu"].is_null());
  EXPECT_TRUE(h["memory"].is_null()) << "not read yet";
  EXPECT_TRUE(h["runq"]["p99_ns"].is_null());
  EXPECT_TRUE(h["runq"]["mean_ns"].is_null());
}

// A small Prometheus text-format (0.0.4) checker: every sample belongs to a family announced by
// HELP and TYPE lines, names and labels are well formed, values parse.
void checkPrometheus(const std::string& text, std::map<std::string, std::string>* types,
                     std::vector<std::string>* samples) {
  std::istringstream in(text);
  std::string line;
  const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
  const std::regex type(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$)");
  std::set<std::string> helped;
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "HELP twice: " << line;
    } else if (std::regex_match(line, m, type)) {
      EXPECT_TRUE(helped.count(m[1])) << "TYPE before HELP: " << line;
      EXPECT_TRUE(types->emplace(m[1], m[2]).second) << "TYPE twice: " << line;
    } else if (std::regex_match(line, m, sample)) {
      EXPECT_TRUE(types->count(m[1])) << "sample without TYPE: " << line;
      samples->push_back(line);
    } else {
      ADD_FAILURE() << "not Prometheus text: " << line;
    }
  }
}

TEST(ApiTest, MetricsAreValidPrometheusText) {
  auto snap = sampleSnapshot();
  std::map<std::string, std::string> types;
  std::vector<std::string> samples;
  checkPrometheus(renderMetrics(*snap), &types, &samples);
  EXPECT_EQ(types["colo_agent_ticks_total"], "counter");
  EXPECT_EQ(types["colo_agent_tick_duration_seconds"], "gauge");
  EXPECT_EQ(types["colo_agent_containers"], "gauge");
  EXPECT_EQ(types["colo_agent_read_errors_total"], "counter");
  EXPECT_EQ(types["colo_agent_cgroup_events_total"], "counter");
  EXPECT_EQ(types["colo_container_cpu_usage_cores"], "gauge");
  EXPECT_EQ(types["colo_container_waited_behind_lower_total"], "counter");
  for (const auto& [name, type] : types) {
    EXPECT_EQ(name.rfind("colo_", 0), 0u) << name;
    if (type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
  }
  auto has = [&](const std::string& s) {
    return std::find(samples.begin(), samples.end(), s) != samples.end();
  };
  const std::string labels = "container=\"" + std::string(64, 'a') +
                             "\",pod=\"6a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8\",tier=\"LS\"";
  EXPECT_TRUE(has("colo_container_cpu_usage_cores{" + labels + "} 0.53"));
  EXPECT_TRUE(has("colo_container_runq_delays_total{" + labels + "} 123456"));
  EXPECT_EQ(types["colo_container_memory_working_set_bytes"], "gauge");
  EXPECT_TRUE(has("colo_container_memory_working_set_bytes{" + labels + "} 83886080"));
  EXPECT_TRUE(has("colo_container_memory_usage_bytes{" + labels + "} 104857600"));
  EXPECT_EQ(std::count_if(samples.begin(), samples.end(),
                          [](const std::string& l) {
                            return l.starts_with("colo_container_memory_working_set_bytes{");
                          }),
            1)
      << "no sample for a container whose memory is unknown";
  EXPECT_TRUE(has("colo_agent_memory_missing_total 0"));
  EXPECT_TRUE(has("colo_container_runq_delay_window_seconds{" + labels +
                  ",quantile=\"0.99\"} 0.000131072"));
  EXPECT_TRUE(has("colo_agent_ticks_total 42"));
  EXPECT_TRUE(has("colo_agent_read_errors_total 2"));
  EXPECT_TRUE(has("colo_agent_containers{tier=\"LS\"} 1"));
  EXPECT_TRUE(has("colo_agent_containers{tier=\"BE\"} 1"));
  EXPECT_TRUE(has("colo_agent_cgroup_events_total{kind=\"mkdir\"} 3"));
  // The host cgroup's odd name is escaped, not breaking the format.
  EXPECT_TRUE(
      has("colo_container_runq_delays_total{container=\"/batch/\\\"odd\\\\name\",pod=\"\","
          "tier=\"BE\"} 0"));
}

TEST(ApiTest, HandlerRoutesAndHealth) {
  SnapshotStore store;
  const int64_t stale = 3'000'000'000;
  auto r = handleApiRequest(store, get("/healthz"), 1, stale);
  EXPECT_EQ(r.status, 503) << "no tick yet";
  r = handleApiRequest(store, get("/v1/containers"), 1, stale);
  EXPECT_EQ(r.status, 503);

  auto snap = sampleSnapshot();
  store.publish(snap);
  r = handleApiRequest(store, get("/healthz"), snap->taken_ns + 1'000'000'000, stale);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  r = handleApiRequest(store, get("/healthz"), snap->taken_ns + 10'000'000'000, stale);
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("stalled"), std::string::npos);

  r = handleApiRequest(store, get("/v1/containers"), snap->taken_ns, stale);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(Json::parse(r.body)["containers"].size(), 2u);
  r = handleApiRequest(store, get("/metrics"), snap->taken_ns, stale);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0u);
  r = handleApiRequest(store, get("/nope"), snap->taken_ns, stale);
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(Json::parse(r.body).contains("error"));
  http::Request post = get("/v1/containers");
  post.method = "POST";
  EXPECT_EQ(handleApiRequest(store, post, snap->taken_ns, stale).status, 405);

  auto sick = std::make_shared<Snapshot>(*snap);
  sick->health_problem = "read BPF stats: Input/output error";
  store.publish(sick);
  r = handleApiRequest(store, get("/healthz"), snap->taken_ns, stale);
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("read BPF stats"), std::string::npos);
}

}  // namespace
}  // namespace colo::agent
