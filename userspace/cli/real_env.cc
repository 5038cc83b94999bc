#include "cli/real_env.h"

#include <fmt/format.h>
#include <unistd.h>

#include <thread>

#include "agent/layout.h"
#include "bpf/sched_probe.h"
#include "common/http.h"

namespace colo::cli {
namespace {

class PinnedMapReader final : public MapReader {
 public:
  explicit PinnedMapReader(bpf::PinnedSchedMaps maps) : maps_(std::move(maps)) {}
  Result<std::vector<bpf::CgroupSchedStats>> readStats() override { return maps_.readStats(); }
  Result<std::vector<std::pair<bpf::CgroupRef, bpf::Tier>>> readTiers() override {
    return maps_.readTiers();
  }
  Result<std::array<uint64_t, bpf::kTierCount>> readThresholds() override {
    return maps_.readThresholds();
  }
  Result<bpf::ProbeCounters> counters() override { return maps_.counters(); }
  Result<std::vector<bpf::CgroupName>> readCgroupNames() override {
    return maps_.readCgroupNames();
  }

 private:
  bpf::PinnedSchedMaps maps_;
};

class HttpAgentClient final : public AgentClient {
 public:
  explicit HttpAgentClient(http::Client client) : client_(std::move(client)) {}
  Result<std::string> get(std::string_view path) override {
    auto resp = client_.get(path);
    if (!resp) {
      return fail(resp.error().wrap(fmt::format("GET {}", path)));
    }
    if (resp->status != 200) {
      return fail(Error(
          EIO, fmt::format("GET {}: HTTP {}: {}", path, resp->status, resp->body.substr(0, 200))));
    }
    return std::move(resp->body);
  }

 private:
  http::Client client_;
};

}  // namespace

CliEnv makeRealEnv() {
  static const RealFs fs;
  CliEnv env;
  env.open_maps = [](const std::string& pin_dir) -> Result<std::unique_ptr<MapReader>> {
    auto maps = bpf::PinnedSchedMaps::open(pin_dir);
    if (!maps) {
      return fail(maps.error());
    }
    return std::make_unique<PinnedMapReader>(std::move(*maps));
  };
  env.connect_agent = [](const std::string& socket) -> Result<std::unique_ptr<AgentClient>> {
    std::string address = socket.starts_with("unix:") || socket.find(':') != std::string::npos
                              ? socket
                              : "unix:" + socket;
    auto client = http::Client::connect(address);
    if (!client) {
      return fail(client.error());
    }
    return std::make_unique<HttpAgentClient>(std::move(*client));
  };
  env.fs = &fs;
  env.detect_mounts = [] { return detectCgroupMounts(); };
  env.classify = [](std::string_view path) {
    CgroupIdentity out;
    if (auto kube = agent::classifyCgroupPath(path)) {
      out.pod_uid = kube->pod_uid;
      out.container_id = kube->container_id;
      out.qos = agent::qosName(kube->qos);
    }
    return out;
  };
  env.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  env.stdout_is_tty = ::isatty(STDOUT_FILENO) == 1;
  return env;
}

}  // namespace colo::cli
