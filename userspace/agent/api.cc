#include "agent/api.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace colo::agent {
namespace {

using Json = nlohmann::ordered_json;

Json optNumber(const std::optional<uint64_t>& v) { return v ? Json(*v) : Json(nullptr); }

Json containerJson(const ContainerView& c) {
  Json j;
  j["id"] = c.id;
  j["name"] = c.name;
  j["pod_uid"] = c.pod_uid;
  j["qos"] = c.qos;
  j["runtime"] = c.runtime;
  j["tier"] = bpf::tierName(c.tier);
  j["cgroup"] = c.cgroup;
  j["cgroup_id"] = c.cgroup_id;
  if (c.have_cpu) {
    j["cpu"] = Json{{"usage_cores", c.usage_cores},       {"throttled_pct", c.throttled_pct},
                    {"usage_ns", c.cpu.usage_ns},         {"nr_periods", c.cpu.nr_periods},
                    {"nr_throttled", c.cpu.nr_throttled}, {"throttled_ns", c.cpu.throttled_ns}};
  } else {
    j["cpu"] = nullptr;
  }
  if (c.psi) {
    j["psi"] = Json{{"some_avg10", c.psi->some_avg10},
                    {"full_avg10", c.psi->full_avg10 ? Json(*c.psi->full_avg10) : Json(nullptr)}};
  } else {
    j["psi"] = nullptr;
  }
  if (c.memory) {
    j["memory"] = Json{{"working_set_bytes", c.memory->working_set_bytes},
                       {"usage_bytes", c.memory->usage_bytes},
                       {"inactive_file_bytes", c.memory->inactive_file_bytes}};
  } else {
    j["memory"] = nullptr;
  }
  j["runq"] = Json{{"count", c.runq_count},         {"delta_count", c.runq_delta_count},
                   {"sum_ns", c.runq_sum_ns},       {"mean_ns", optNumber(c.mean_ns)},
                   {"max_ns", c.runq_max_ns},       {"p50_ns", optNumber(c.p50_ns)},
                   {"p90_ns", optNumber(c.p90_ns)}, {"p99_ns", optNumber(c.p99_ns)}};
  j["hist_window"] = c.hist_window;
  j["preemptions"] = c.preemptions;
  j["involuntary_switches"] = c.involuntary_switches;
  j["waited_behind_lower"] = c.waited_behind_lower;
  j["waited_behind_lower_delta"] = c.waited_behind_lower_delta;
  j["over_threshold"] = c.over_threshold;
  j["latency_events"] = c.latency_events;
  return j;
}

// Prometheus label value escaping: backslash, double quote, newline.
std::string escapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char ch : v) {
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '"') {
      out += "\\\"";
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out;
}

class MetricsWriter {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  template <typename T>
  void sample(std::string_view name, std::string_view labels, T value) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string containerLabels(const ContainerView& c) {
  return fmt::format("container=\"{}\",pod=\"{}\",tier=\"{}\"", escapeLabel(c.id),
                     escapeLabel(c.pod_uid), bpf::tierName(c.tier));
}

Json errorBody(std::string_view message) { return Json{{"error", message}}; }

}  // namespace

std::string renderContainersJson(const Snapshot& s, const nlohmann::json* profiles) {
  Json j;
  j["node"] = s.node;
  j["tick_ms"] = s.tick_ms;
  j["window_ticks"] = s.window_ticks;
  j["cgroup_version"] = s.cgroup_version;
  j["attach_mode"] = s.attach_mode;
  Json list = Json::array();
  for (const ContainerView& c : s.containers) {
    Json cj = containerJson(c);
    if (profiles != nullptr) {
      auto it = profiles->find(c.id);
      cj["profile"] = it != profiles->end() ? Json::parse(it->dump()) : Json(nullptr);
    }
    list.push_back(std::move(cj));
  }
  j["containers"] = std::move(list);
  return j.dump();
}

std::string renderMetrics(const Snapshot& s) {
  MetricsWriter w;
  const AgentStats& a = s.stats;
  auto counter = [&](std::string_view name, std::string_view help, uint64_t v) {
    w.family(name, "counter", help);
    w.sample(name, "", v);
  };
  counter("colo_agent_ticks_total", "Collection ticks run.", a.ticks);
  w.family("colo_agent_tick_duration_seconds", "gauge", "Duration of the last collection tick.");
  w.sample("colo_agent_tick_duration_seconds", "", a.last_tick_seconds);
  w.family("colo_agent_tick_duration_max_seconds", "gauge", "Longest collection tick since start.");
  w.sample("colo_agent_tick_duration_max_seconds", "", a.max_tick_seconds);
  w.family("colo_agent_containers", "gauge", "Containers watched, by tier.");
  std::array<uint64_t, bpf::kTierCount> by_tier{};
  for (const ContainerView& c : s.containers) {
    ++by_tier[static_cast<size_t>(c.tier)];
  }
  for (int t = 1; t < bpf::kTierCount; ++t) {
    w.sample("colo_agent_containers", fmt::format("tier=\"{}\"", bpf::tierName(bpf::Tier(t))),
             by_tier[t]);
  }
  counter("colo_agent_read_errors_total", "Cgroup file or BPF map reads that failed.",
          a.read_errors);
  counter("colo_agent_bulk_cpu_errors_total",
          "BPF cgroup iterator reads that failed (the tick read cgroup files instead).",
          a.bulk_cpu_errors);
  counter("colo_agent_containers_vanished_total",
          "Containers dropped because their cgroup vanished during a read.", a.containers_vanished);
  counter("colo_agent_memory_missing_total",
          "Memory reads that found no memory cgroup for a watched container (its memory is "
          "unknown until one does).",
          a.memory_missing);
  counter("colo_agent_containers_added_total", "Containers that started being watched.",
          a.containers_added);
  counter("colo_agent_containers_removed_total", "Containers that stopped being watched.",
          a.containers_removed);
  w.family("colo_agent_cgroup_events_total", "counter",
           "Cgroup mkdir/rmdir events received from BPF.");
  w.sample("colo_agent_cgroup_events_total", "kind=\"mkdir\"", a.cgroup_mkdir_events);
  w.sample("colo_agent_cgroup_events_total", "kind=\"rmdir\"", a.cgroup_rmdir_events);
  w.family("colo_agent_latency_events_total", "counter",
           "Run-queue latency events received from BPF, by tier.");
  for (int t = 1; t < bpf::kTierCount; ++t) {
    w.sample("colo_agent_latency_events_total",
             fmt::format("tier=\"{}\"", bpf::tierName(bpf::Tier(t))), a.latency_events_by_tier[t]);
  }
  counter("colo_agent_resyncs_total", "Periodic rescans of the cgroup tree.", a.resyncs);
  counter("colo_agent_resync_differences_total",
          "Containers a resync added or removed because events had missed them.",
          a.resync_differences);
  counter("colo_agent_bpf_write_errors_total",
          "BPF map writes (tier, threshold, forget) that failed.", a.bpf_write_errors);
  counter("colo_agent_cgroup_events_mismatched_total",
          "Cgroup mkdir events ignored because their path now holds another cgroup.",
          a.events_mismatched);
  if (a.probe) {
    w.family("colo_bpf_events_dropped_total", "counter", "Latency events BPF did not deliver.");
    w.sample("colo_bpf_events_dropped_total", "reason=\"ratelimit\"",
             a.probe->events_dropped_ratelimit);
    w.sample("colo_bpf_events_dropped_total", "reason=\"ringbuf_full\"",
             a.probe->events_dropped_full);
    counter("colo_bpf_stats_map_full_total", "New cgroups that found the BPF stats map full.",
            a.probe->stats_map_full);
    counter("colo_bpf_storage_errors_total", "BPF task storage failures.", a.probe->storage_errors);
  }

  struct Family {
    const char* name;
    const char* type;
    const char* help;
  };
  auto per_container = [&](const Family& f, auto&& value_of) {
    w.family(f.name, f.type, f.help);
    for (const ContainerView& c : s.containers) {
      value_of(c, containerLabels(c));
    }
  };
  per_container({"colo_container_cpu_usage_cores", "gauge", "CPU used over the last tick, cores."},
                [&](const ContainerView& c, const std::string& l) {
                  if (c.have_cpu) {
                    w.sample("colo_container_cpu_usage_cores", l, c.usage_cores);
                  }
                });
  per_container({"colo_container_cpu_usage_seconds_total", "counter", "CPU time used."},
                [&](const ContainerView& c, const std::string& l) {
                  if (c.have_cpu) {
                    w.sample("colo_container_cpu_usage_seconds_total", l,
                             static_cast<double>(c.cpu.usage_ns) / 1e9);
                  }
                });
  per_container({"colo_container_cpu_throttled_percent", "gauge",
                 "Share of CFS periods throttled over the last tick, percent."},
                [&](const ContainerView& c, const std::string& l) {
                  if (c.have_cpu) {
                    w.sample("colo_container_cpu_throttled_percent", l, c.throttled_pct);
                  }
                });
  per_container({"colo_container_cpu_periods_total", "counter", "CFS bandwidth periods elapsed."},
                [&](const ContainerView& c, const std::string& l) {
                  if (c.have_cpu) {
                    w.sample("colo_container_cpu_periods_total", l, c.cpu.nr_periods);
                  }
                });
  per_container({"colo_container_cpu_throttled_periods_total", "counter",
                 "CFS bandwidth periods in which the cgroup was throttled."},
                [&](const ContainerView& c, const std::string& l) {
                  if (c.have_cpu) {
                    w.sample("colo_container_cpu_throttled_periods_total", l, c.cpu.nr_throttled);
                  }
                });
  per_container(
      {"colo_container_cpu_throttled_seconds_total", "counter", "Time the cgroup spent throttled."},
      [&](const ContainerView& c, const std::string& l) {
        if (c.have_cpu) {
          w.sample("colo_container_cpu_throttled_seconds_total", l,
                   static_cast<double>(c.cpu.throttled_ns) / 1e9);
        }
      });
  per_container({"colo_container_cpu_pressure_some_avg10", "gauge",
                 "PSI cpu some avg10, percent (absent where the kernel has no PSI here)."},
                [&](const ContainerView& c, const std::string& l) {
                  if (c.psi) {
                    w.sample("colo_container_cpu_pressure_some_avg10", l, c.psi->some_avg10);
                  }
                });
  per_container({"colo_container_cpu_pressure_full_avg10", "gauge",
                 "PSI cpu full avg10, percent (absent where the kernel has no PSI here)."},
                [&](const ContainerView& c, const std::string& l) {
                  if (c.psi && c.psi->full_avg10) {
                    w.sample("colo_container_cpu_pressure_full_avg10", l, *c.psi->full_avg10);
                  }
                });
  per_container({"colo_container_memory_working_set_bytes", "gauge",
                 "Memory working set (usage minus inactive file pages, as kubelet), bytes."},
                [&](const ContainerView& c, const std::string& l) {
                  if (c.memory) {
                    w.sample("colo_container_memory_working_set_bytes", l,
                             c.memory->working_set_bytes);
                  }
                });
  per_container({"colo_container_memory_usage_bytes", "gauge",
                 "Memory charged to the cgroup, page cache included, bytes."},
                [&](const ContainerView& c, const std::string& l) {
                  if (c.memory) {
                    w.sample("colo_container_memory_usage_bytes", l, c.memory->usage_bytes);
                  }
                });
  per_container(
      {"colo_container_runq_delays_total", "counter", "Wakeup-to-run delays measured by BPF."},
      [&](const ContainerView& c, const std::string& l) {
        w.sample("colo_container_runq_delays_total", l, c.runq_count);
      });
  per_container({"colo_container_runq_delay_seconds_total", "counter",
                 "Sum of the wakeup-to-run delays measured by BPF."},
                [&](const ContainerView& c, const std::string& l) {
                  w.sample("colo_container_runq_delay_seconds_total", l,
                           static_cast<double>(c.runq_sum_ns) / 1e9);
                });
  per_container(
      {"colo_container_runq_delay_max_seconds", "gauge", "Largest wakeup-to-run delay measured."},
      [&](const ContainerView& c, const std::string& l) {
        w.sample("colo_container_runq_delay_max_seconds", l,
                 static_cast<double>(c.runq_max_ns) / 1e9);
      });
  per_container({"colo_container_runq_delay_window_seconds", "gauge",
                 "Wakeup-to-run delay percentile over the window (log2 bucket upper bound)."},
                [&](const ContainerView& c, const std::string& l) {
                  const std::pair<const char*, const std::optional<uint64_t>*> qs[] = {
                      {"0.5", &c.p50_ns}, {"0.9", &c.p90_ns}, {"0.99", &c.p99_ns}};
                  for (const auto& [q, v] : qs) {
                    if (*v) {
                      w.sample("colo_container_runq_delay_window_seconds",
                               fmt::format("{},quantile=\"{}\"", l, q),
                               static_cast<double>(**v) / 1e9);
                    }
                  }
                });
  per_container({"colo_container_preemptions_total", "counter",
                 "Times a task of the container was switched out while runnable."},
                [&](const ContainerView& c, const std::string& l) {
                  w.sample("colo_container_preemptions_total", l, c.preemptions);
                });
  per_container({"colo_container_involuntary_switches_total", "counter",
                 "Involuntary context switches of the container's tasks."},
                [&](const ContainerView& c, const std::string& l) {
                  w.sample("colo_container_involuntary_switches_total", l, c.involuntary_switches);
                });
  per_container({"colo_container_waited_behind_lower_total", "counter",
                 "Delays during which a lower-tier task held the CPU."},
                [&](const ContainerView& c, const std::string& l) {
                  w.sample("colo_container_waited_behind_lower_total", l, c.waited_behind_lower);
                });
  per_container({"colo_container_over_threshold_total", "counter",
                 "Delays over the tier's latency threshold."},
                [&](const ContainerView& c, const std::string& l) {
                  w.sample("colo_container_over_threshold_total", l, c.over_threshold);
                });
  per_container({"colo_container_latency_events_total", "counter",
                 "Latency events received from BPF for the container."},
                [&](const ContainerView& c, const std::string& l) {
                  w.sample("colo_container_latency_events_total", l, c.latency_events);
                });
  return w.take();
}

http::Response handleApiRequest(const SnapshotStore& store, const http::Request& request,
                                int64_t now_ns, int64_t stale_after_ns, const PolicyApi* policy) {
  http::Response resp;
  if (request.method != "GET" && request.method != "HEAD") {
    resp.status = 405;
    resp.body = errorBody("read-only API: use GET").dump();
    resp.headers.emplace_back("allow", "GET, HEAD");
    return resp;
  }
  std::shared_ptr<const Snapshot> snap = store.get();
  if (request.path == "/healthz") {
    resp.content_type = "text/plain";
    if (!snap) {
      resp.status = 503;
      resp.body = "starting: no tick yet\n";
    } else if (now_ns - snap->taken_ns > stale_after_ns) {
      resp.status = 503;
      resp.body =
          fmt::format("stalled: last tick {} ms ago\n", (now_ns - snap->taken_ns) / 1000000);
    } else if (!snap->health_problem.empty()) {
      resp.status = 503;
      resp.body = snap->health_problem + "\n";
    } else {
      resp.body = "ok\n";
    }
    return resp;
  }
  if (request.path == "/metrics" || request.path == "/v1/containers") {
    if (!snap) {
      resp.status = 503;
      resp.body = errorBody("starting: no tick yet").dump();
      return resp;
    }
    if (request.path == "/metrics") {
      resp.content_type = "text/plain; version=0.0.4";
      resp.body = renderMetrics(*snap);
      if (policy != nullptr && policy->metrics) {
        resp.body += policy->metrics();
      }
    } else if (policy != nullptr && policy->profiles) {
      nlohmann::json profiles = policy->profiles();
      resp.body = renderContainersJson(*snap, &profiles);
    } else {
      resp.body = renderContainersJson(*snap);
    }
    return resp;
  }
  if (request.path == "/v1/controllers" || request.path == "/v1/node") {
    const auto& hook = request.path == "/v1/node" ? (policy ? &policy->node : nullptr)
                                                  : (policy ? &policy->controllers : nullptr);
    if (hook == nullptr || !*hook) {
      resp.status = 404;
      resp.body =
          errorBody("the policy engine is off: add a policy: section to the colod config").dump();
      return resp;
    }
    nlohmann::json body = (*hook)();
    if (snap) {
      body["node"] = snap->node;
    }
    resp.body = body.dump();
    return resp;
  }
  resp.status = 404;
  resp.body = errorBody(fmt::format("no such path: {}", request.path)).dump();
  return resp;
}

}  // namespace colo::agent
