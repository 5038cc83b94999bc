#include "agent/collector.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace colo::agent {
namespace {

constexpr std::string_view kComponent = "collector";

// Errors that mean "this cgroup is gone" rather than "something is broken".
bool isGone(const Error& e) { return e.code() == ENOENT || e.code() == ENODEV; }

std::string childPath(const std::string& rel, const std::string& name) {
  return rel == "/" ? "/" + name : rel + "/" + name;
}

// *out = mount + "/" + rel + "/" + name with single slashes, in *out's storage: once it has
// grown, building a path allocates nothing.
void cgroupFilePath(std::string_view mount, std::string_view rel, std::string_view name,
                    std::string* out) {
  while (!mount.empty() && mount.back() == '/') {
    mount.remove_suffix(1);
  }
  while (!rel.empty() && rel.front() == '/') {
    rel.remove_prefix(1);
  }
  while (!rel.empty() && rel.back() == '/') {
    rel.remove_suffix(1);
  }
  out->assign(mount);
  out->push_back('/');
  if (!rel.empty()) {
    out->append(rel);
    out->push_back('/');
  }
  out->append(name);
}

}  // namespace

Collector::Collector(const FileSystem& fs, bpf::SchedSource& source, CollectorOptions options)
    : fs_(fs), source_(source), options_(std::move(options)) {
  if (options_.cpuacct_mount.empty()) {
    options_.cpuacct_mount = options_.cpu_mount;
  }
}

Status Collector::start() {
  if (!fs_.exists(options_.cpu_mount)) {
    return failErrno(ENOENT, "cpu cgroup hierarchy " + options_.cpu_mount);
  }
  for (int t = 1; t < bpf::kTierCount; ++t) {
    if (auto st = source_.setThreshold(bpf::Tier(t), options_.thresholds_ns[t]); !st) {
      ++stats_.bpf_write_errors;
      log::warn(kComponent, "set {} latency threshold: {}", bpf::tierName(bpf::Tier(t)),
                st.error().message());
    }
  }
  if (!fs_.exists(joinPath(options_.cpu_mount, options_.kubelet_root))) {
    log::info(kComponent, "no kubelet cgroup root {} under {} (yet); tier rules apply",
              options_.kubelet_root, options_.cpu_mount);
  } else if (!options_.memory_mount.empty() &&
             !fs_.exists(joinPath(options_.memory_mount, options_.kubelet_root))) {
    log::info(kComponent,
              "no kubelet cgroup root {} under the memory hierarchy {}: container memory stays "
              "unknown until it appears",
              options_.kubelet_root, options_.memory_mount);
  }
  for (const auto& [path, found] : scan()) {
    add(path, found);
  }
  // The containers of the initial scan may have BPF entries from before this agent started
  // (pinned maps): their first reading is a baseline, not a tick's worth of delays.
  for (auto& [id, c] : containers_) {
    c->baseline_first = true;
  }
  log::info(kComponent, "watching {} containers", containers_.size());
  return ok();
}

std::optional<Collector::Found> Collector::classify(const std::string& rel) const {
  std::optional<KubeCgroup> kube = classifyCgroupPath(rel, options_.kubelet_root);
  std::optional<bpf::Tier> tier = resolveTier(options_.rules, rel, kube);
  if (!tier) {
    return std::nullopt;
  }
  return Found{*tier, std::move(kube)};
}

void Collector::scanDir(const std::string& rel, uint32_t depth, uint32_t max_depth,
                        std::map<std::string, Found>* out) {
  auto children = fs_.listDirs(joinPath(options_.cpu_mount, rel));
  if (!children) {
    if (!isGone(children.error())) {
      ++stats_.read_errors;
      if (read_log_.allow()) {
        log::warn(kComponent, "scan: {}", children.error().message());
      }
    }
    return;
  }
  for (const std::string& name : *children) {
    std::string child = childPath(rel, name);
    if (auto found = classify(child)) {
      out->emplace(child, std::move(*found));
    }
    if (depth + 1 < max_depth) {
      scanDir(child, depth + 1, max_depth, out);
    }
  }
}

std::map<std::string, Collector::Found> Collector::scan() {
  std::map<std::string, Found> out;
  if (options_.rules.empty()) {
    // Kubernetes only: qos / pod / container are at most three levels below the root.
    scanDir(options_.kubelet_root, 0, 3, &out);
  } else {
    scanDir("/", 0, options_.max_scan_depth, &out);
  }
  return out;
}

bool Collector::add(const std::string& rel, const Found& found, uint64_t expected_id) {
  if (by_path_.count(rel) != 0) {
    return true;
  }
  auto id = fs_.inode(joinPath(options_.cpu_mount, rel));
  if (!id) {
    if (isGone(id.error())) {
      ++stats_.containers_vanished;
    } else {
      ++stats_.read_errors;
      if (read_log_.allow()) {
        log::warn(kComponent, "add {}: {}", rel, id.error().message());
      }
    }
    return false;
  }
  if (expected_id != 0 && *id != expected_id) {
    ++stats_.events_mismatched;
    log::debug(kComponent, "mkdir event for {} names cgroup {}, the directory is {}: ignored", rel,
               expected_id, *id);
    return false;
  }
  if (auto it = containers_.find(*id); it != containers_.end()) {
    // Same cgroup under a path we missed a rename of: keep one entry.
    by_path_.erase(it->second->view.cgroup);
    containers_.erase(it);
    order_dirty_ = true;
  }
  auto c = std::make_unique<Container>(options_.window_ticks);
  ContainerView& v = c->view;
  v.serial = ++next_serial_;
  v.cgroup = rel;
  v.cgroup_id = *id;
  v.tier = found.tier;
  if (found.kube && found.kube->level == KubeCgroup::Level::kContainer) {
    v.id = found.kube->container_id;
    v.pod_uid = found.kube->pod_uid;
    v.name = "pod" + v.pod_uid + "/" + v.id;
    v.qos = qosName(found.kube->qos);
    v.runtime = runtimeName(found.kube->runtime);
  } else {
    v.id = rel;
    v.name = rel;
  }
  if (auto st = source_.setTier(bpf::CgroupRef{hierarchy(), *id}, found.tier); !st) {
    ++stats_.bpf_write_errors;
    if (bpf_log_.allow()) {
      log::warn(kComponent, "set tier of {}: {}", rel, st.error().message());
    }
  }
  log::debug(kComponent, "watch {} (id {}, tier {})", rel, *id, bpf::tierName(found.tier));
  by_path_[rel] = *id;
  containers_[*id] = std::move(c);
  order_dirty_ = true;
  ++stats_.containers_added;
  return true;
}

void Collector::remove(uint64_t id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) {
    return;
  }
  if (auto st = source_.forget(bpf::CgroupRef{hierarchy(), id}); !st && !isGone(st.error())) {
    ++stats_.bpf_write_errors;
    if (bpf_log_.allow()) {
      log::warn(kComponent, "forget {}: {}", it->second->view.cgroup, st.error().message());
    }
  }
  log::debug(kComponent, "unwatch {} (id {})", it->second->view.cgroup, id);
  by_path_.erase(it->second->view.cgroup);
  containers_.erase(it);
  order_dirty_ = true;
  ++stats_.containers_removed;
}

void Collector::onCgroupEvent(const bpf::CgroupEvent& event) {
  if (event.kind == bpf::CgroupEvent::Kind::kMkdir) {
    ++stats_.cgroup_mkdir_events;
  } else {
    ++stats_.cgroup_rmdir_events;
  }
  if (event.cgroup.hierarchy != hierarchy()) {
    return;
  }
  if (event.kind == bpf::CgroupEvent::Kind::kMkdir) {
    if (auto found = classify(event.path)) {
      add(event.path, *found, event.cgroup.id);
    }
    return;
  }
  auto it = by_path_.find(event.path);
  // The directory may exist again (removed and re-created before we looked): only drop it when
  // it is really gone; the inode check of a later resync or mkdir event covers the rest.
  if (it != by_path_.end() && !fs_.exists(joinPath(options_.cpu_mount, event.path))) {
    remove(it->second);
  }
}

void Collector::onLatencyEvent(const bpf::LatencyEvent& event) {
  ++stats_.latency_events;
  auto tier = static_cast<size_t>(event.tier);
  if (tier < stats_.latency_events_by_tier.size()) {
    ++stats_.latency_events_by_tier[tier];
  }
  if (event.cgroup.hierarchy == hierarchy()) {
    if (auto it = containers_.find(event.cgroup.id); it != containers_.end()) {
      ++it->second->view.latency_events;
    }
  }
}

void Collector::resync() {
  ++stats_.resyncs;
  std::map<std::string, Found> found = scan();
  std::vector<uint64_t> gone;
  for (const auto& [path, id] : by_path_) {
    auto it = found.find(path);
    if (it == found.end()) {
      gone.push_back(id);
      continue;
    }
    // Same path, different cgroup: removed and re-created while we missed the events.
    auto inode = fs_.inode(joinPath(options_.cpu_mount, path));
    if (inode && *inode != id) {
      gone.push_back(id);
    }
  }
  for (uint64_t id : gone) {
    log::info(kComponent, "resync: {} is gone", containers_[id]->view.cgroup);
    remove(id);
    ++stats_.resync_differences;
  }
  for (const auto& [path, f] : found) {
    if (by_path_.count(path) == 0) {
      if (add(path, f)) {
        log::info(kComponent, "resync: found {}", path);
        ++stats_.resync_differences;
      }
    }
  }
}

void Collector::applySched(Container& c, const bpf::CgroupSchedStats& s) {
  ContainerView& v = c.view;
  if (c.have_sched) {
    const bpf::CgroupSchedStats& p = c.last_sched;
    v.runq_delta_count = counterDelta(p.count, s.count);
    v.waited_behind_lower_delta = counterDelta(p.waited_behind_lower, s.waited_behind_lower);
    c.window.push(histDelta(p.hist, s.hist), v.runq_delta_count, counterDelta(p.sum_ns, s.sum_ns));
  } else if (!c.baseline_first) {
    // First entry of a container that appeared while we run: everything in it is new.
    v.runq_delta_count = s.count;
    v.waited_behind_lower_delta = s.waited_behind_lower;
    c.window.push(s.hist, s.count, s.sum_ns);
  } else {
    v.runq_delta_count = 0;
    v.waited_behind_lower_delta = 0;
    c.window.push(Hist{}, 0, 0);
  }
  c.last_sched = s;
  c.have_sched = true;
  v.runq_count = s.count;
  v.runq_sum_ns = s.sum_ns;
  v.runq_max_ns = s.max_ns;
  v.preemptions = s.preemptions;
  v.involuntary_switches = s.involuntary_switches;
  v.waited_behind_lower = s.waited_behind_lower;
  v.over_threshold = s.over_threshold;
}

Result<std::string> Collector::readCgroupFile(const std::string& path, UniqueFd* cache) const {
  return options_.cache_fds ? fs_.readFileKept(path, cache) : fs_.readFile(path);
}

Status Collector::readCgroupFileInto(const std::string& path, UniqueFd* cache,
                                     std::string* out) const {
  if (options_.cache_fds) {
    return fs_.readCgroupFileKeptInto(path, cache, out);
  }
  auto text = fs_.readFile(path);
  if (!text) {
    return fail(text.error());
  }
  *out = std::move(*text);
  return ok();
}

bool Collector::readCpu(Container& c, int64_t now_ns) {
  ContainerView& v = c.view;
  const std::string dir = joinPath(options_.cpu_mount, v.cgroup);
  Result<CpuStat> stat;
  auto cpu_stat = readCgroupFile(dir + "/cpu.stat", &c.stat_fd);
  if (!cpu_stat) {
    if (isGone(cpu_stat.error())) {
      return false;
    }
    stat = fail(cpu_stat.error());
  } else if (options_.version == CgroupVersion::kV2) {
    stat = parseCpuStatV2(*cpu_stat);
  } else {
    auto usage =
        readCgroupFile(joinPath(options_.cpuacct_mount, v.cgroup) + "/cpuacct.usage", &c.usage_fd);
    if (!usage) {
      if (isGone(usage.error())) {
        return false;
      }
      stat = fail(usage.error());
    } else {
      stat = parseCpuStatV1(*cpu_stat, *usage);
    }
  }
  if (!stat) {
    ++stats_.read_errors;
    if (read_log_.allow()) {
      log::warn(kComponent, "read {}: {}", v.cgroup, stat.error().message());
    }
    return true;
  }
  if (c.limit_reads++ % kLimitEveryTicks == 0) {
    readLimit(c, &*stat);
  }
  applyCpu(c, *stat, now_ns);
  readPsi(c);
  return true;
}

void Collector::readLimit(Container& c, CpuStat* stat) {
  const std::string dir = joinPath(options_.cpu_mount, c.view.cgroup);
  Result<std::optional<double>> limit = failInvalid("unread");
  if (options_.version == CgroupVersion::kV2) {
    auto text = readCgroupFile(dir + "/cpu.max", &c.quota_fd);
    limit = text ? parseCpuMax(*text) : Result<std::optional<double>>(fail(text.error()));
  } else {
    auto quota = readCgroupFile(dir + "/cpu.cfs_quota_us", &c.quota_fd);
    auto period = readCgroupFile(dir + "/cpu.cfs_period_us", &c.period_fd);
    if (quota && period) {
      limit = parseCfsLimit(*quota, *period);
    } else {
      limit = fail(quota ? period.error() : quota.error());
    }
  }
  if (!limit) {
    // No bandwidth files (CFS bandwidth not built in): no limit colod could relieve; a vanished
    // cgroup is caught by the cpu.stat read.
    if (!isGone(limit.error()) && read_log_.allow()) {
      log::warn(kComponent, "read CPU limit of {}: {}", c.view.cgroup, limit.error().message());
    }
    return;
  }
  stat->limit_known = true;
  stat->limit_cores = *limit;
}

void Collector::maybeReadMemory(Container& c) {
  if (options_.memory_mount.empty()) {
    return;
  }
  const uint64_t now = stats_.ticks;
  if (now < c.memory_due_tick) {
    return;
  }
  readMemory(c);
  // Next at the first later tick t with (t + serial) % every == 0: the containers found by one
  // scan are read in different ticks, not all together every `every`-th tick.
  const uint64_t every = std::max<uint32_t>(1, options_.memory_every_ticks);
  c.memory_due_tick = now + every - (now + c.view.serial) % every;
}

void Collector::readMemory(Container& c) {
  ContainerView& v = c.view;
  const CgroupVersion version = options_.memory_version;
  // A failure: a missing memory cgroup is normal (counted), anything else a read error.
  auto failed = [&](const Error& e) {
    v.memory.reset();
    if (isGone(e)) {
      // The CPU read just found the cgroup, so its memory cgroup is what is missing: not made
      // yet (runtimes create one controller's directory after another), removed first, or, on
      // v2, the memory controller not enabled above it. Tried again at the next due tick.
      ++stats_.memory_missing;
      log::debug(kComponent, "no memory figures for {}: {}", v.cgroup, e.message());
      return;
    }
    ++stats_.read_errors;
    if (read_log_.allow()) {
      log::warn(kComponent, "read memory of {}: {}", v.cgroup, e.message());
    }
  };
  cgroupFilePath(options_.memory_mount, v.cgroup,
                 version == CgroupVersion::kV2 ? "memory.current" : "memory.usage_in_bytes",
                 &mem_path_);
  if (auto st = readCgroupFileInto(mem_path_, &c.mem_usage_fd, &mem_usage_buf_); !st) {
    return failed(st.error());
  }
  auto usage = parseMemoryUsageBytes(mem_usage_buf_);
  if (!usage) {
    return failed(usage.error().wrap(mem_path_));
  }
  const uint64_t moved =
      *usage > c.stat_usage_bytes ? *usage - c.stat_usage_bytes : c.stat_usage_bytes - *usage;
  if (v.memory && moved < kStatRereadBytes && ++c.reads_since_stat < kStatEveryReads) {
    // Usage (nearly) unchanged: the inactive file pages read last time still hold.
    v.memory = memoryUsage(*usage, v.memory->inactive_file_bytes);
    return;
  }
  cgroupFilePath(options_.memory_mount, v.cgroup, "memory.stat", &mem_path_);
  if (auto st = readCgroupFileInto(mem_path_, &c.mem_stat_fd, &mem_stat_buf_); !st) {
    return failed(st.error());
  }
  auto inactive = parseInactiveFile(mem_stat_buf_, version);
  if (!inactive) {
    return failed(inactive.error().wrap(mem_path_));
  }
  v.memory = memoryUsage(*usage, *inactive);
  c.stat_usage_bytes = *usage;
  c.reads_since_stat = 0;
}

void Collector::applyCpu(Container& c, const CpuStat& stat, int64_t now_ns) {
  ContainerView& v = c.view;
  if (c.have_cpu && now_ns > c.cpu_read_ns) {
    double dt = static_cast<double>(now_ns - c.cpu_read_ns);
    v.usage_cores = static_cast<double>(counterDelta(v.cpu.usage_ns, stat.usage_ns)) / dt;
    uint64_t periods = counterDelta(v.cpu.nr_periods, stat.nr_periods);
    uint64_t throttled = counterDelta(v.cpu.nr_throttled, stat.nr_throttled);
    v.throttled_pct =
        periods == 0 ? 0.0 : 100.0 * static_cast<double>(throttled) / static_cast<double>(periods);
  }
  if (stat.limit_known) {
    v.cpu_limit_cores = stat.limit_cores;
  }
  v.cpu = stat;
  v.have_cpu = true;
  c.have_cpu = true;
  c.cpu_read_ns = now_ns;
}

void Collector::readPsi(Container& c) {
  ContainerView& v = c.view;
  if (!c.psi_absent) {
    const std::string& psi_mount =
        options_.version == CgroupVersion::kV2 ? options_.cpu_mount : options_.cpuacct_mount;
    auto text = readCgroupFile(joinPath(psi_mount, v.cgroup) + "/cpu.pressure", &c.psi_fd);
    if (!text) {
      // No PSI on this kernel/hierarchy (ENOENT, EOPNOTSUPP with psi=0): null, not an error.
      c.psi_absent = true;
      v.psi.reset();
    } else if (auto p = parsePressure(*text)) {
      v.psi = *p;
    } else {
      ++stats_.read_errors;
      v.psi.reset();
    }
  }
}

void Collector::tick(int64_t now_ns) {
  auto t0 = std::chrono::steady_clock::now();
  health_problem_.clear();
  for (auto& [id, c] : containers_) {
    c->seen_this_tick = false;
  }
  auto stats = source_.readStatsInto(&sched_buf_);
  if (stats) {
    for (const bpf::CgroupSchedStats& s : sched_buf_) {
      if (s.cgroup.hierarchy != hierarchy()) {
        continue;
      }
      auto it = containers_.find(s.cgroup.id);
      if (it != containers_.end()) {
        applySched(*it->second, s);
        it->second->seen_this_tick = true;
      }
    }
  } else {
    ++stats_.read_errors;
    health_problem_ = "read BPF stats: " + stats.error().message();
    if (bpf_log_.allow()) {
      log::warn(kComponent, "{}", health_problem_);
    }
  }
  if (options_.bulk_cpu != nullptr) {
    for (auto& [id, c] : containers_) {
      c->bulk_this_tick = false;
    }
    auto st = options_.bulk_cpu->read([&](uint64_t id, const CpuStat& stat) {
      auto it = containers_.find(id);
      if (it != containers_.end()) {
        applyCpu(*it->second, stat, now_ns);
        it->second->bulk_this_tick = true;
      }
    });
    if (!st) {
      ++stats_.bulk_cpu_errors;
      if (read_log_.allow()) {
        log::warn(kComponent, "bulk CPU read: {} (reading cgroup files instead this tick)",
                  st.error().message());
      }
    }
  }
  std::vector<uint64_t> vanished;
  for (auto& [id, c] : containers_) {
    ContainerView& v = c->view;
    if (!c->seen_this_tick) {
      // No BPF entry (no delays yet, or the read failed): the window still moves on.
      c->window.push(Hist{}, 0, 0);
      v.runq_delta_count = 0;
      v.waited_behind_lower_delta = 0;
    }
    if (c->window.version() != c->window_version) {  // else the figures below are unchanged
      c->window_version = c->window.version();
      v.hist_window = c->window.sum();
      v.p50_ns = histPercentile(v.hist_window, 0.50);
      v.p90_ns = histPercentile(v.hist_window, 0.90);
      v.p99_ns = histPercentile(v.hist_window, 0.99);
      v.mean_ns.reset();
      if (c->window.count() > 0) {
        v.mean_ns = c->window.sumNs() / c->window.count();
      }
    }
    if (c->bulk_this_tick) {
      readPsi(*c);
    } else if (!readCpu(*c, now_ns)) {
      vanished.push_back(id);
      continue;
    }
    maybeReadMemory(*c);
  }
  for (uint64_t id : vanished) {
    log::debug(kComponent, "{} vanished", containers_[id]->view.cgroup);
    remove(id);
    ++stats_.containers_vanished;
  }
  ++stats_.ticks;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stats_.last_tick_seconds = secs;
  stats_.max_tick_seconds = std::max(stats_.max_tick_seconds, secs);
}

std::shared_ptr<Snapshot> Collector::snapshot(std::shared_ptr<Snapshot> reuse) {
  if (order_dirty_) {
    order_.clear();
    order_.reserve(containers_.size());
    for (const auto& [id, c] : containers_) {
      order_.push_back(c.get());
    }
    std::sort(order_.begin(), order_.end(), [](const Container* a, const Container* b) {
      return a->view.cgroup < b->view.cgroup;
    });
    order_dirty_ = false;
  }
  std::shared_ptr<Snapshot> snap = reuse ? std::move(reuse) : std::make_shared<Snapshot>();
  // Copy-assigning into the previous snapshot's views reuses their strings' storage: no
  // allocation per container per tick once the set is stable.
  snap->containers.resize(order_.size());
  for (size_t i = 0; i < order_.size(); ++i) {
    ContainerView& dst = snap->containers[i];
    const ContainerView& src = order_[i]->view;
    if (dst.serial == src.serial) {
      static_cast<ContainerFigures&>(dst) = src;  // same container: its identity is there
    } else {
      dst = src;
    }
  }
  snap->stats = stats_;
  snap->health_problem = health_problem_;
  return snap;
}

}  // namespace colo::agent
