// colod: the colo node agent. Flag parsing and wiring only; the logic lives in colo_agent.
#include <gflags/gflags.h>

#include <cstdio>
#include <filesystem>

#include "agent/agent.h"
#include "agent/config.h"
#include "common/log.h"

DEFINE_string(config, "/etc/colo/colod.yaml",
              "YAML config file (docs/agent.md); the default path may be absent");
DEFINE_string(node_name, "", "node name reported by the API (default: host name)");
DEFINE_string(cgroup_root, "auto",
              "kubelet cgroup root relative to the cpu hierarchy mount (\"auto\": /kubepods.slice "
              "if present, else /kubepods)");
DEFINE_uint32(tick_ms, 1000, "collection period in ms (100..60000)");
DEFINE_uint32(window_ticks, 60, "percentile window in ticks (1..600)");
DEFINE_uint32(resync_interval_s, 60, "rescan of the cgroup tree as a safety net, seconds");
DEFINE_string(api_socket, "/run/colo/colod.sock", "unix socket of the local API");
DEFINE_string(api_addr, "", "also serve the API on host:port (e.g. 127.0.0.1:9477)");
DEFINE_string(pin_dir, "/sys/fs/bpf/colo", "where the BPF maps are pinned");
DEFINE_string(log_level, "info", "debug, info, warn or error");
DEFINE_bool(force_raw_tp, false, "attach raw_tp programs even where tp_btf works");
DEFINE_bool(cgroup_iter, true,
            "read containers' CPU figures with one BPF cgroup-iterator read per tick (false: "
            "cpu.stat/cpuacct.usage per container); when not given: on for cgroup v1, off for v2");
DEFINE_string(state_dir, "/var/lib/colo", "executor journal and lock (enforcement)");
DEFINE_bool(enforce, true,
            "write cgroup knobs when the policy engine runs (default: true with a policy: "
            "section; --enforce=false runs it dry)");
DEFINE_string(feature_probe_cgroup, "",
              "name of the kernel feature probe's temporary cgroup (default colo-probe-<pid>)");

namespace {

bool isSet(const char* name) { return !gflags::GetCommandLineFlagInfoOrDie(name).is_default; }

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("colo node agent: watches containers, serves /metrics and /v1/*");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  using colo::agent::AgentConfig;

  AgentConfig config;
  if (isSet("config") || std::filesystem::exists(FLAGS_config)) {
    auto loaded = colo::agent::loadConfigFile(FLAGS_config);
    if (!loaded) {
      std::fprintf(stderr, "colod: %s\n", loaded.error().message().c_str());
      return 2;
    }
    config = std::move(*loaded);
  }
  colo::agent::ConfigOverrides o;
  if (isSet("node_name"))
    o.node_name = FLAGS_node_name;
  if (isSet("cgroup_root"))
    o.cgroup_root = FLAGS_cgroup_root;
  if (isSet("tick_ms"))
    o.tick_ms = FLAGS_tick_ms;
  if (isSet("window_ticks"))
    o.window_ticks = FLAGS_window_ticks;
  if (isSet("resync_interval_s"))
    o.resync_interval_s = FLAGS_resync_interval_s;
  if (isSet("api_socket"))
    o.api_socket = FLAGS_api_socket;
  if (isSet("api_addr"))
    o.api_addr = FLAGS_api_addr;
  if (isSet("pin_dir"))
    o.pin_dir = FLAGS_pin_dir;
  if (isSet("log_level"))
    o.log_level = FLAGS_log_level;
  if (isSet("force_raw_tp"))
    o.bpf_force_raw_tp = FLAGS_force_raw_tp;
  if (isSet("cgroup_iter"))
    o.bpf_cgroup_iter = FLAGS_cgroup_iter;
  if (isSet("state_dir"))
    o.state_dir = FLAGS_state_dir;
  if (isSet("enforce"))
    o.enforce = FLAGS_enforce;
  if (isSet("feature_probe_cgroup"))
    o.feature_probe_name = FLAGS_feature_probe_cgroup;
  auto merged = colo::agent::applyOverrides(std::move(config), o);
  if (!merged) {
    std::fprintf(stderr, "colod: %s\n", merged.error().message().c_str());
    return 2;
  }
  colo::log::Level level;
  colo::log::parseLevel(merged->log_level, &level);
  colo::log::setLevel(level);

  auto agent = colo::agent::Agent::create(*merged);
  if (!agent) {
    std::fprintf(stderr, "colod: %s\n", agent.error().message().c_str());
    return 1;
  }
  if (auto st = (*agent)->run(); !st) {
    std::fprintf(stderr, "colod: %s\n", st.error().message().c_str());
    return 1;
  }
  return 0;
}
