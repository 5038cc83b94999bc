#include "agent/agent.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <filesystem>

#include "agent/api.h"
#include "agent/collector.h"
#include "agent/enforcer.h"
#include "agent/startup.h"
#include "bpf/cgstat_iter.h"
#include "bpf/sched_probe.h"
#include "common/cgroup_mounts.h"
#include "common/fs.h"
#include "common/http.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "kmods-free/feature_probe.h"

namespace colo::agent {
namespace {

constexpr std::string_view kComponent = "colod";

int64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string hostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) {
    return "unknown";
  }
  return buf;
}

Status makeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return failErrno(ec.value(), "create directory " + dir);
  }
  return ok();
}

// The collector's bulk CPU source over the BPF cgroup iterator (bpf/cgstat.bpf.c).
class IterCpuSource final : public BulkCpuSource {
 public:
  explicit IterCpuSource(std::unique_ptr<bpf::CgroupStatIter> iter) : iter_(std::move(iter)) {}
  Status read(const std::function<void(uint64_t, const CpuStat&)>& fn) override {
    if (disabled_) {
      return ok();  // reports nothing: the collector reads every container's files
    }
    if (auto st = iter_->read(&figures_); !st) {
      if (st.error().code() == E2BIG || st.error().code() == EOPNOTSUPP) {
        // The tree outgrew one iterator read; it will not shrink back soon.
        disabled_ = true;
        log::warn(kComponent,
                  "{}: reading cpu.stat/cpuacct.usage per container from now on (restart colod "
                  "to try the iterator again)",
                  st.error().message());
      }
      return st;
    }
    for (const auto& f : figures_) {
      if (f.has_cpu_css && !f.partial) {
        CpuStat st{f.usage_ns, f.nr_periods, f.nr_throttled, f.throttled_ns};
        st.limit_known = true;
        if (f.limit_mcpu != 0) {
          st.limit_cores = f.limit_mcpu / 1000.0;
        }
        fn(f.id, st);
      }
    }
    return ok();
  }

 private:
  std::unique_ptr<bpf::CgroupStatIter> iter_;
  std::vector<bpf::CgroupCpuFigures> figures_;
  bool disabled_ = false;
};

}  // namespace

struct Agent::Impl {
  AgentConfig config;
  CgroupMounts mounts;
  RealFs fs;
  std::unique_ptr<bpf::SchedProbe> probe;
  std::unique_ptr<BulkCpuSource> bulk_cpu;  // null: the collector reads cgroup files
  std::unique_ptr<Collector> collector;
  std::unique_ptr<Enforcer> enforcer;  // null when the policy engine is off
  PolicyApi policy_api;
  SnapshotStore store;
  std::unique_ptr<http::Server> server;
  std::string node;
  int64_t next_resync_ns = 0;
  uint64_t cgroup_events_dropped = 0;  // last seen ProbeCounters value

  void tickAndPublish();
  std::shared_ptr<Snapshot> previous;  // the snapshot in the store now
  std::shared_ptr<Snapshot> spare;     // the one before: rebuilt in place next tick if free
  Status serve();
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;

Result<std::unique_ptr<Agent>> Agent::create(const AgentConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->node = config.node_name.empty() ? hostName() : config.node_name;

  auto mounts = detectCgroupMounts();
  if (!mounts) {
    return fail(mounts.error().wrap("cgroups"));
  }
  impl->mounts = *mounts;
  CgroupVersion version = *mounts->cpuVersion();
  if (auto st = checkPrivileges(); !st) {
    return fail(st.error());
  }
  if (auto st = checkBtf(); !st) {
    return fail(st.error());
  }

  CollectorOptions copts;
  copts.version = version;
  copts.cpu_mount = *mounts->mountFor("cpu");
  if (version == CgroupVersion::kV1) {
    auto cpuacct = mounts->mountFor("cpuacct");
    if (!cpuacct) {
      return failErrno(ENOENT,
                       "cgroups: cpu is on cgroup v1 but no cpuacct hierarchy is mounted "
                       "(mount -t cgroup -o cpuacct none /sys/fs/cgroup/cpuacct)");
    }
    copts.cpuacct_mount = *cpuacct;
  }
  copts.kubelet_root = config.cgroup_root;
  if (copts.kubelet_root == "auto") {
    copts.kubelet_root = impl->fs.exists(joinPath(copts.cpu_mount, "kubepods.slice"))
                             ? "/kubepods.slice"
                             : "/kubepods";
  }
  if (auto memory = mounts->mountFor("memory")) {
    copts.memory_mount = *memory;
    copts.memory_version = *memory == mounts->unified ? CgroupVersion::kV2 : CgroupVersion::kV1;
  } else {
    log::warn(kComponent,
              "no cgroup hierarchy carries the memory controller: per-container memory is not "
              "read (the BE memory guard and be-memory capacity see none)");
  }
  // Memory moves slowly: about once a second per container, not every tick.
  copts.memory_every_ticks = std::max<uint32_t>(1, 1000 / config.tick_ms);
  copts.rules = config.tier_rules;
  copts.cache_fds = true;
  // Up to seven cached descriptors per container (cpu.stat, cpuacct.usage, cpu.pressure, two for
  // the CPU limit, two for memory): take the hard limit of open files.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  copts.window_ticks = config.window_ticks;
  for (int t = 0; t < bpf::kTierCount; ++t) {
    copts.thresholds_ns[t] = config.latency_threshold_us[t] * 1000;
  }

  bpf::ProbeOptions popts;
  popts.pin_dir = config.pin_dir;
  popts.max_cgroups = config.bpf_max_cgroups;
  popts.force_raw_tp = config.bpf_force_raw_tp;
  popts.events_per_sec = config.bpf_events_per_sec;
  popts.hierarchy = version == CgroupVersion::kV1 ? bpf::Hierarchy::kV1Cpu : bpf::Hierarchy::kV2;
  auto probe = bpf::SchedProbe::load(popts);
  if (!probe) {
    return fail(probe.error().wrap("load BPF probe"));
  }
  impl->probe = std::move(*probe);
  if (auto counters = impl->probe->counters()) {
    impl->cgroup_events_dropped = counters->cgroup_events_dropped;  // reused pinned maps
  }
  log::info(kComponent, "BPF probe attached ({}), maps pinned at {}", impl->probe->attachMode(),
            config.pin_dir);

  if (!config.bpf_cgroup_iter && version == CgroupVersion::kV2) {
    log::info(kComponent,
              "CPU figures: cgroup files per container (the BPF cgroup iterator is on by default "
              "on cgroup v1 only until verified on v2; bpf.cgroup_iter: true turns it on)");
  }
  if (config.bpf_cgroup_iter.value_or(version == CgroupVersion::kV1)) {
    std::string root = joinPath(copts.cpu_mount, copts.kubelet_root);
    // Containers are the leaves of the kubelet tree; a container a tier rule names that has
    // children is read from its files.
    if (auto iter = bpf::CgroupStatIter::open(root, /*leaves_only=*/true)) {
      impl->bulk_cpu = std::make_unique<IterCpuSource>(std::move(*iter));
      copts.bulk_cpu = impl->bulk_cpu.get();
      log::info(kComponent, "CPU figures: one BPF cgroup-iterator read per tick under {}", root);
    } else {
      log::info(kComponent, "CPU figures: cgroup files per container ({})", iter.error().message());
    }
  }
  impl->collector = std::make_unique<Collector>(impl->fs, *impl->probe, copts);
  if (auto st = impl->collector->start(); !st) {
    return fail(st.error().wrap("start collector"));
  }
  // Pinned maps reused from an earlier run may hold tiers of cgroups that went away while colod
  // was down: drop every tier entry of our hierarchy that the scan did not find.
  if (auto pinned = bpf::PinnedSchedMaps::open(config.pin_dir)) {
    if (auto tiers = pinned->readTiers()) {
      size_t pruned = 0;
      for (const auto& [ref, tier] : *tiers) {
        if (ref.hierarchy == popts.hierarchy && !impl->collector->watches(ref.id) &&
            impl->probe->forget(ref)) {
          ++pruned;
        }
      }
      if (pruned != 0) {
        log::info(kComponent, "dropped {} stale tier entries from the pinned maps", pruned);
      }
    }
  }
  log::info(kComponent, "cgroup v{}, cpu hierarchy {}, memory hierarchy {}, kubelet root {}",
            static_cast<int>(version), copts.cpu_mount,
            copts.memory_mount.empty() ? std::string("none") : copts.memory_mount,
            copts.kubelet_root);

  if (config.engineEnabled()) {
    auto env = kmods::realProbeEnv(&impl->fs);
    if (!env) {
      return fail(env.error().wrap("kernel feature probe"));
    }
    env->probe_name = config.feature_probe_name;
    auto features = kmods::probeFeatures(*env);
    if (!features) {
      return fail(features.error().wrap("kernel feature probe"));
    }
    for (const auto& note : features->notes) {
      log::info(kComponent, "feature probe: {}", note);
    }
    EnforcerOptions eopts;
    eopts.policy = effectivePolicy(config);
    eopts.enforce = config.enforcing();
    eopts.executor.state_dir = config.state_dir;
    eopts.executor.max_writes_per_sec = config.max_writes_per_sec;
    auto enforcer = Enforcer::create(std::move(eopts), std::move(*features), impl->fs);
    if (!enforcer) {
      return fail(enforcer.error().wrap("policy"));
    }
    impl->enforcer = std::move(*enforcer);
    Enforcer* e = impl->enforcer.get();
    impl->policy_api.controllers = [e] { return e->controllersJson(); };
    impl->policy_api.node = [e] { return e->nodeJson(); };
    impl->policy_api.profiles = [e] { return e->profilesJson(); };
    impl->policy_api.metrics = [e] { return e->metricsText(); };
  }

  http::ServerOptions sopts;
  sopts.threads = 1;
  sopts.max_body_bytes = 64 << 10;  // read-only API: requests carry no body worth the name
  int64_t stale_ns = std::max<int64_t>(3LL * config.tick_ms, 5000) * 1'000'000;
  Impl* raw = impl.get();
  impl->server = std::make_unique<http::Server>(sopts, [raw, stale_ns](const http::Request& req) {
    return handleApiRequest(raw->store, req, monotonicNs(), stale_ns,
                            raw->enforcer ? &raw->policy_api : nullptr);
  });
  std::string sock_dir = std::filesystem::path(config.api_socket).parent_path().string();
  if (auto st = makeDirs(sock_dir); !st) {
    return fail(st.error().wrap("api_socket"));
  }
  if (auto st = impl->server->listenUnix(config.api_socket, 0660); !st) {
    return fail(st.error().wrap("api_socket " + config.api_socket));
  }
  if (!config.api_addr.empty()) {
    auto hp = parseHostPort(config.api_addr);
    if (!hp) {
      return fail(hp.error().wrap("api_addr"));
    }
    auto port = impl->server->listenTcp(hp->first, hp->second);
    if (!port) {
      return fail(port.error().wrap("api_addr " + config.api_addr));
    }
    log::info(kComponent, "API on {}:{}", hp->first, *port);
  }
  log::info(kComponent, "API on unix:{}", config.api_socket);
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

void Agent::Impl::tickAndPublish() {
  int64_t now = monotonicNs();
  if (now >= next_resync_ns) {
    if (next_resync_ns != 0) {
      collector->resync();
    }
    next_resync_ns = now + static_cast<int64_t>(config.resync_interval_s) * 1'000'000'000;
  }
  collector->tick(now);
  if (auto counters = probe->counters()) {
    // Cgroup events lost in the ring buffer: the watched set may be wrong until a rescan, so do
    // it now rather than at the next resync interval.
    if (counters->cgroup_events_dropped > cgroup_events_dropped) {
      log::warn(kComponent, "{} cgroup events lost: rescanning",
                counters->cgroup_events_dropped - cgroup_events_dropped);
      cgroup_events_dropped = counters->cgroup_events_dropped;
      collector->resync();
    }
    collector->mutableStats().probe = *counters;
  }
  // The snapshot published two ticks ago is rebuilt in place when no API reader still holds it.
  std::shared_ptr<Snapshot> reuse;
  if (spare && spare.use_count() == 1) {
    // Pairs with the release in a reader's shared_ptr destructor: its reads are done.
    std::atomic_thread_fence(std::memory_order_acquire);
    reuse = std::move(spare);
  }
  spare.reset();
  std::shared_ptr<Snapshot> snap = collector->snapshot(std::move(reuse));
  snap->node = node;
  snap->tick_ms = config.tick_ms;
  snap->window_ticks = config.window_ticks;
  snap->cgroup_version = collector->hierarchy() == bpf::Hierarchy::kV1Cpu ? 1 : 2;
  snap->attach_mode = probe->attachMode();
  snap->taken_ns = now;
  store.publish(snap);
  if (enforcer) {
    enforcer->onTick(*snap, snap->stats, now);
  }
  // Held for reuse: once the store has moved on to the next snapshot, only this pointer and
  // readers still answering a request hold it.
  spare = std::move(previous);
  previous = std::move(snap);
}

Status Agent::run() { return impl_->serve(); }

Status Agent::Impl::serve() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (::pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) {
    return failErrno(errno, "block signals");
  }
  UniqueFd sig_fd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sig_fd.valid()) {
    return failErrno(errno, "signalfd");
  }
  UniqueFd timer_fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!timer_fd.valid()) {
    return failErrno(errno, "timerfd_create");
  }
  itimerspec its{};
  its.it_interval.tv_sec = config.tick_ms / 1000;
  its.it_interval.tv_nsec = static_cast<long>(config.tick_ms % 1000) * 1'000'000;
  its.it_value = its.it_interval;
  if (::timerfd_settime(timer_fd.get(), 0, &its, nullptr) != 0) {
    return failErrno(errno, "timerfd_settime");
  }
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) {
    return failErrno(errno, "epoll_create1");
  }
  auto watch = [&](int fd) -> Status {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return failErrno(errno, "epoll_ctl");
    }
    return ok();
  };
  for (int fd : {sig_fd.get(), timer_fd.get(), probe->eventFd()}) {
    if (auto st = watch(fd); !st) {
      return st;
    }
  }
  // First figures right away, so the API answers before the first full tick.
  tickAndPublish();
  if (auto st = server->start(); !st) {
    return fail(st.error().wrap("start API server"));
  }
  log::info(kComponent, "running: tick {} ms, window {} ticks, resync every {} s", config.tick_ms,
            config.window_ticks, config.resync_interval_s);

  auto on_latency = [this](const bpf::LatencyEvent& e) {
    collector->onLatencyEvent(e);
    if (enforcer) {
      enforcer->onLatencyEvent(e, monotonicNs());
    }
  };
  auto on_cgroup = [this](const bpf::CgroupEvent& e) { collector->onCgroupEvent(e); };
  log::RateLimit event_log(std::chrono::seconds(10));
  for (;;) {
    epoll_event events[8];
    int n = ::epoll_wait(ep.get(), events, 8, -1);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      server->stop();
      return failErrno(errno, "epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == sig_fd.get()) {
        signalfd_siginfo si{};
        if (::read(sig_fd.get(), &si, sizeof(si)) == sizeof(si)) {
          log::info(kComponent, "signal {}: shutting down", si.ssi_signo);
          server->stop();
          ::unlink(config.api_socket.c_str());
          if (enforcer) {
            // Every knob colo changed goes back to its value from before colo.
            return enforcer->shutdown();
          }
          return ok();
        }
      } else if (fd == timer_fd.get()) {
        uint64_t expirations = 0;
        if (::read(timer_fd.get(), &expirations, sizeof(expirations)) > 0) {
          tickAndPublish();
        }
      } else if (fd == probe->eventFd()) {
        if (auto st = probe->consumeEvents(on_latency, on_cgroup); !st) {
          ++collector->mutableStats().read_errors;
          if (event_log.allow()) {
            log::warn(kComponent, "ring buffer: {}", st.error().message());
          }
        }
      }
    }
  }
}

}  // namespace colo::agent
