#include "bpf/sched_probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "abi/sched.h"
#include "bpf/libbpf_raii.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "sched.skel.h"

namespace colo::bpf {

static_assert(kHistBuckets == COLO_HIST_BUCKETS);
static_assert(kTierCount == COLO_NR_TIERS);
static_assert(static_cast<int>(Tier::kLSX) == COLO_TIER_LSX);
static_assert(static_cast<int>(Hierarchy::kV1Cpu) == COLO_HIER_V1_CPU);
static_assert(static_cast<int>(Hierarchy::kV2) == COLO_HIER_V2);

namespace {

constexpr std::string_view kLog = "bpf";
constexpr const char* kBtfPath = "/sys/kernel/btf/vmlinux";
constexpr uint32_t kConfigKey = 0;

// Maps pinned under pin_dir; the file name is the BPF map name.
constexpr const char* kPinStats = "stats";
constexpr const char* kPinSlots = "slots";
constexpr const char* kPinFreeSlots = "free_slots";
constexpr const char* kPinTiers = "tiers";
constexpr const char* kPinCgroups = "cgroups";
constexpr const char* kPinConfig = "sched_config";
constexpr const char* kPinCounters = "counters";

// libbpf prints through here: warnings to our log, the rest at debug level.
int libbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && log::level() > log::Level::kDebug) {
    return 0;
  }
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), format, args);
  std::string_view text(buf, n < 0 ? 0 : std::min<size_t>(n, sizeof(buf) - 1));
  while (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  if (level == LIBBPF_WARN) {
    log::warn("libbpf", "{}", text);
  } else {
    log::debug("libbpf", "{}", text);
  }
  return 0;
}

void installLibbpfLogger() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpfPrint); });
}

Tier tierFromAbi(uint32_t tier) {
  return tier <= COLO_TIER_LSX ? static_cast<Tier>(tier) : Tier::kNone;
}

Hierarchy hierarchyFromAbi(uint32_t h) {
  return h == COLO_HIER_V2 ? Hierarchy::kV2 : Hierarchy::kV1Cpu;
}

colo_cgroup_key keyOf(CgroupRef ref) {
  colo_cgroup_key key{};
  key.id = ref.id;
  key.hierarchy = static_cast<uint32_t>(ref.hierarchy);
  return key;
}

CgroupRef refOf(const colo_cgroup_key& key) {
  return CgroupRef{hierarchyFromAbi(key.hierarchy), key.id};
}

// Walks a hash map with lookup_batch (one syscall per chunk), falling back to get_next_key on
// kernels without batch ops. fn(key, value) is called per entry.
template <typename K, typename V, typename Fn>
Status walkHash(int fd, std::string_view what, Fn&& fn) {
  // Reused across calls (the agent walks the slots hash every tick): allocating and zeroing
  // them per call was ~7 % of colod's CPU at a 100 ms tick (perf).
  thread_local std::vector<K> keys(256);
  thread_local std::vector<V> values(256);
  auto chunk = static_cast<uint32_t>(keys.size());
  K in_batch{};
  K out_batch{};
  bool first = true;
  for (;;) {
    uint32_t count = chunk;
    int rc = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data(),
                                  values.data(), &count, nullptr);
    int err = rc < 0 ? errno : 0;
    if (rc < 0 && err == ENOSPC && count == 0) {
      chunk *= 2;  // one bucket holds more entries than the chunk
      keys.resize(chunk);
      values.resize(chunk);
      continue;
    }
    if (rc < 0 && err != ENOENT) {
      if (first && (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP)) {
        break;  // no batch ops: walk key by key below
      }
      return failErrno(err, fmt::format("read {} map", what));
    }
    for (uint32_t i = 0; i < count; ++i) {
      fn(keys[i], values[i]);
    }
    if (rc < 0) {  // ENOENT: that was the last chunk
      return ok();
    }
    in_batch = out_batch;
    first = false;
  }
  K key{};
  K next{};
  bool have_key = false;
  while (bpf_map_get_next_key(fd, have_key ? &key : nullptr, &next) == 0) {
    V value{};
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) {
      fn(next, value);
    } else if (errno != ENOENT) {  // ENOENT: deleted during the walk, normal
      return failErrno(errno, fmt::format("read {} map", what));
    }
    key = next;
    have_key = true;
  }
  if (errno != ENOENT) {
    return failErrno(errno, fmt::format("walk {} map", what));
  }
  return ok();
}

CgroupSchedStats statsFromAbi(const colo_cgroup_key& key, const colo_cgroup_stats& v) {
  CgroupSchedStats s;
  s.cgroup = refOf(key);
  s.count = v.count;
  s.sum_ns = v.sum_ns;
  s.max_ns = v.max_ns;
  std::copy(std::begin(v.hist), std::end(v.hist), s.hist.begin());
  s.preemptions = v.preemptions;
  s.involuntary_switches = v.involuntary_switches;
  s.waited_behind_lower = v.waited_behind_lower;
  s.over_threshold = v.over_threshold;
  return s;
}

std::string pathFromAbi(const colo_cgroup_info& info) {
  size_t len = std::min<size_t>(info.path_len, COLO_CGROUP_PATH_MAX - 1);
  return std::string(info.path, strnlen(info.path, len));
}

// Reads over the map fds; shared by SchedProbe (its own maps) and PinnedSchedMaps.
struct MapFds {
  int stats = -1;
  int slots = -1;
  int tiers = -1;
  int cgroups = -1;
  int config = -1;
  int counters = -1;

  // The slots hash names the cgroups that have statistics; each one's figures are in the stats
  // array at its slot. A cgroup removed between the two reads is skipped or, rarely, shows the
  // zeroed figures of the cgroup that took its slot.
  Result<std::vector<CgroupSchedStats>> readStats() const {
    std::vector<CgroupSchedStats> out;
    if (auto st = readStatsInto(&out); !st) {
      return fail(st.error());
    }
    return out;
  }

  // Replaces *out; its storage and the slot list's are reused from call to call (a fresh
  // ~150 KB vector per tick at 400 cgroups went through mmap/munmap each time).
  Status readStatsInto(std::vector<CgroupSchedStats>* out) const {
    thread_local std::vector<std::pair<colo_cgroup_key, uint32_t>> entries;
    entries.clear();
    out->clear();
    auto st = walkHash<colo_cgroup_key, uint32_t>(
        slots, "slots",
        [&](const colo_cgroup_key& k, const uint32_t& slot) { entries.emplace_back(k, slot); });
    if (!st) {
      return fail(st.error());
    }
    out->reserve(entries.size());
    colo_cgroup_stats value{};
    for (const auto& [key, slot] : entries) {
      if (bpf_map_lookup_elem(stats, &slot, &value) != 0) {
        return failErrno(errno, fmt::format("read stats map slot {}", slot));
      }
      out->push_back(statsFromAbi(key, value));
    }
    return ok();
  }

  Result<std::vector<std::pair<CgroupRef, Tier>>> readTiers() const {
    std::vector<std::pair<CgroupRef, Tier>> out;
    auto st = walkHash<colo_cgroup_key, colo_tier_value>(
        tiers, "tiers", [&](const colo_cgroup_key& k, const colo_tier_value& v) {
          out.emplace_back(refOf(k), tierFromAbi(v.tier));
        });
    if (!st) {
      return fail(st.error());
    }
    return out;
  }

  Result<std::vector<CgroupName>> readCgroupNames() const {
    std::vector<CgroupName> out;
    auto st = walkHash<colo_cgroup_key, colo_cgroup_info>(
        cgroups, "cgroups", [&](const colo_cgroup_key& k, const colo_cgroup_info& v) {
          out.push_back(CgroupName{refOf(k), pathFromAbi(v), v.truncated != 0, v.created_ns});
        });
    if (!st) {
      return fail(st.error());
    }
    return out;
  }

  Result<colo_sched_config> readConfig() const {
    colo_sched_config cfg{};
    if (bpf_map_lookup_elem(config, &kConfigKey, &cfg) != 0) {
      return failErrno(errno, "read sched_config map");
    }
    return cfg;
  }

  Status writeConfig(const colo_sched_config& cfg) const {
    if (bpf_map_update_elem(config, &kConfigKey, &cfg, BPF_ANY) != 0) {
      return failErrno(errno, "write sched_config map");
    }
    return ok();
  }

  Result<std::array<uint64_t, kTierCount>> readThresholds() const {
    auto cfg = readConfig();
    if (!cfg) {
      return fail(cfg.error());
    }
    std::array<uint64_t, kTierCount> out{};
    for (int i = 0; i < kTierCount; ++i) {
      out[i] = cfg->threshold_ns[i];
    }
    return out;
  }

  Result<ProbeCounters> readCounters() const {
    int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0) {
      return failErrno(ncpus < 0 ? -ncpus : EINVAL, "count possible CPUs");
    }
    std::vector<uint64_t> per_cpu(ncpus);
    std::array<uint64_t, COLO_SCHED_NR_STATS> sums{};
    for (uint32_t i = 0; i < COLO_SCHED_NR_STATS; ++i) {
      if (bpf_map_lookup_elem(counters, &i, per_cpu.data()) != 0) {
        return failErrno(errno, "read counters map");
      }
      for (uint64_t v : per_cpu) {
        sums[i] += v;
      }
    }
    ProbeCounters c;
    c.events_dropped_ratelimit = sums[COLO_STAT_EVENTS_DROPPED_RATELIMIT];
    c.events_dropped_full = sums[COLO_STAT_EVENTS_DROPPED_FULL];
    c.stats_map_full = sums[COLO_STAT_STATS_MAP_FULL];
    c.storage_errors = sums[COLO_STAT_STORAGE_ERRORS];
    c.cgroup_events_dropped = sums[COLO_STAT_CGROUP_EVENTS_DROPPED];
    c.cgroups_map_full = sums[COLO_STAT_CGROUPS_MAP_FULL];
    c.read_errors = sums[COLO_STAT_READ_ERRORS];
    c.latency_events = sums[COLO_STAT_LATENCY_EVENTS];
    c.cgroup_events = sums[COLO_STAT_CGROUP_EVENTS];
    c.no_enqueue_time = sums[COLO_STAT_NO_ENQUEUE_TIME];
    return c;
  }
};

// Hierarchy id of the cgroup v1 hierarchy carrying the cpu controller, from /proc/cgroups.
Result<int> cpuV1HierarchyId() {
  std::ifstream in("/proc/cgroups");
  if (!in) {
    return failErrno(errno ? errno : ENOENT, "read /proc/cgroups");
  }
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    int id = -1;
    if (fields >> name >> id && name == "cpu") {
      if (id <= 0) {
        return failErrno(ENOENT,
                         "the cpu controller is not on a cgroup v1 hierarchy (/proc/cgroups says "
                         "hierarchy 0): attribute to cgroup v2 instead");
      }
      return id;
    }
  }
  return failErrno(ENOENT,
                   "no cpu controller in /proc/cgroups: kernel built without "
                   "CONFIG_CGROUP_SCHED");
}

Status checkBpffs(const std::string& pin_dir) {
  std::string parent = pin_dir.substr(0, pin_dir.find_last_of('/'));
  if (parent.empty()) {
    parent = "/";
  }
  struct statfs fs {};
  if (statfs(parent.c_str(), &fs) != 0) {
    return failErrno(errno, fmt::format("statfs {}", parent));
  }
  if (fs.f_type != BPF_FS_MAGIC) {
    return failErrno(ENOTSUP, fmt::format("{} is not a BPF file system: mount it with "
                                          "'mount -t bpf bpf {}'",
                                          parent, parent));
  }
  if (::mkdir(pin_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return failErrno(errno, fmt::format("mkdir {}", pin_dir));
  }
  return ok();
}

std::string describeInfo(const bpf_map_info& info) {
  return fmt::format("type {} key {} value {} entries {} flags {:#x}", info.type, info.key_size,
                     info.value_size, info.max_entries, info.map_flags);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SchedProbe

struct SchedProbe::Impl {
  Skeleton<sched_bpf> skel;
  std::vector<BpfLink> links;
  RingBuffer events;
  MapFds fds;
  ProbeOptions options;
  const char* mode = "tp_btf+sched_info";
  bool reused = false;
  // Set only inside consumeEvents().
  const std::function<void(const LatencyEvent&)>* on_latency = nullptr;
  const std::function<void(const CgroupEvent&)>* on_cgroup = nullptr;

  // One load attempt in one attach mode (program set and delay source).
  static Result<std::unique_ptr<Impl>> loadMode(const ProbeOptions& options, bool btf,
                                                bool sched_info, int watch_hierarchy_id);
  // Loads with the sched_info delay source unless options.force_wakeup_delays, or when it does
  // not load or fails checkSchedInfo(); then with the wakeup programs.
  static Result<std::unique_ptr<Impl>> loadBest(const ProbeOptions& options, bool btf,
                                                int watch_hierarchy_id);
  // sched_info mode: makes ~100 context switches and checks that the switched-in tasks had a
  // sane sched_info.last_queued (not 0, not ahead of the rq clock).
  Status checkSchedInfo();
  static int onEvent(void* ctx, void* data, size_t size);
  Status preparePins();
  Status pinNew(const std::vector<bool>& reused_maps);
  Status bumpTierGen();
};

namespace {

struct PinnedMapRef {
  const char* name;
  bpf_map* map;
};

// stats, slots and free_slots only make sense together: preparePins() reuses all or none.
std::vector<PinnedMapRef> pinnedMaps(sched_bpf* skel) {
  return {{kPinStats, skel->maps.stats},         {kPinTiers, skel->maps.tiers},
          {kPinCgroups, skel->maps.cgroups},     {kPinConfig, skel->maps.sched_config},
          {kPinCounters, skel->maps.counters},   {kPinSlots, skel->maps.slots},
          {kPinFreeSlots, skel->maps.free_slots}};
}

std::string pinPath(const std::string& dir, const char* name) { return dir + "/" + name; }

bool isBtfProgram(bpf_program* prog) {
  std::string_view name = bpf_program__name(prog);
  return name.ends_with("_btf");
}

// sched_wakeup/sched_wakeup_new: only the wakeup delay source needs them.
bool isWakeupProgram(bpf_program* prog) {
  std::string_view name = bpf_program__name(prog);
  return name.starts_with("sched_wakeup");
}

}  // namespace

// Reuses the pinned maps when every one of them matches this binary (ABI version and map
// shapes); otherwise removes them so load() pins fresh ones.
Status SchedProbe::Impl::preparePins() {
  const std::string& dir = options.pin_dir;
  if (auto st = checkBpffs(dir); !st) {
    return fail(st.error().wrap("pin dir"));
  }
  auto maps = pinnedMaps(skel.get());
  std::vector<UniqueFd> pinned(maps.size());
  std::string mismatch;
  size_t present = 0;
  for (size_t i = 0; i < maps.size(); ++i) {
    std::string path = pinPath(dir, maps[i].name);
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) {
      if (errno == ENOENT) {
        continue;
      }
      return failErrno(errno, fmt::format("open pinned map {}", path));
    }
    pinned[i].reset(fd);
    ++present;
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
      return failErrno(errno, fmt::format("inspect pinned map {}", path));
    }
    bpf_map* m = maps[i].map;
    if (info.type != static_cast<uint32_t>(bpf_map__type(m)) ||
        info.key_size != bpf_map__key_size(m) || info.value_size != bpf_map__value_size(m) ||
        info.max_entries != bpf_map__max_entries(m) || info.map_flags != bpf_map__map_flags(m)) {
      if (mismatch.empty()) {
        mismatch = fmt::format(
            "map {} differs (pinned: {}; this binary: type {} key {} value {} entries {} flags "
            "{:#x})",
            maps[i].name, describeInfo(info), static_cast<int>(bpf_map__type(m)),
            bpf_map__key_size(m), bpf_map__value_size(m), bpf_map__max_entries(m),
            bpf_map__map_flags(m));
      }
    }
  }
  if (present == 0) {
    return ok();
  }
  if (mismatch.empty() && present != maps.size()) {
    mismatch = fmt::format("only {} of the {} maps are pinned", present, maps.size());
  }
  const size_t config_index = 3;
  if (mismatch.empty()) {
    if (!pinned[config_index].valid()) {
      mismatch = "sched_config is not pinned, so the ABI version is unknown";
    } else {
      colo_sched_config cfg{};
      if (bpf_map_lookup_elem(pinned[config_index].get(), &kConfigKey, &cfg) != 0) {
        return failErrno(errno, "read pinned sched_config");
      }
      if (cfg.abi_version != COLO_SCHED_ABI_VERSION) {
        mismatch = fmt::format("pinned ABI version {}, this binary speaks version {}",
                               cfg.abi_version, static_cast<int>(COLO_SCHED_ABI_VERSION));
      }
    }
  }
  if (!mismatch.empty()) {
    log::warn(kLog, "replacing the maps pinned in {} (their statistics restart from zero): {}", dir,
              mismatch);
    for (auto& m : maps) {
      std::string path = pinPath(dir, m.name);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return failErrno(errno, fmt::format("remove stale pinned map {}", path));
      }
    }
    return ok();
  }
  for (size_t i = 0; i < maps.size(); ++i) {
    if (!pinned[i].valid()) {
      continue;
    }
    if (int rc = bpf_map__reuse_fd(maps[i].map, pinned[i].get()); rc != 0) {
      return fail(Error::fromErrno(-rc, fmt::format("reuse pinned map {}", maps[i].name)));
    }
  }
  reused = present == maps.size();
  log::info(kLog, "reusing {} map(s) pinned in {}", present, dir);
  return ok();
}

Status SchedProbe::Impl::pinNew(const std::vector<bool>& reused_maps) {
  auto maps = pinnedMaps(skel.get());
  for (size_t i = 0; i < maps.size(); ++i) {
    if (reused_maps[i]) {
      continue;
    }
    std::string path = pinPath(options.pin_dir, maps[i].name);
    if (int rc = bpf_map__pin(maps[i].map, path.c_str()); rc != 0) {
      return fail(Error::fromErrno(-rc, fmt::format("pin map {}", path)));
    }
  }
  return ok();
}

Status SchedProbe::Impl::bumpTierGen() {
  auto cfg = fds.readConfig();
  if (!cfg) {
    return fail(cfg.error());
  }
  cfg->tier_gen++;
  return fds.writeConfig(*cfg);
}

int SchedProbe::Impl::onEvent(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Impl*>(ctx);
  if (size < sizeof(uint32_t)) {
    return 0;
  }
  uint32_t type = 0;
  std::memcpy(&type, data, sizeof(type));
  if (type == COLO_EVENT_LATENCY && size >= sizeof(colo_latency_event)) {
    colo_latency_event e{};
    std::memcpy(&e, data, sizeof(e));
    if (self->on_latency != nullptr && *self->on_latency) {
      LatencyEvent out;
      out.cgroup = CgroupRef{hierarchyFromAbi(e.hierarchy), e.cgroup_id};
      out.tier = tierFromAbi(e.tier);
      out.pid = e.pid;
      out.cpu = e.cpu;
      out.delay_ns = e.delay_ns;
      out.timestamp_ns = e.ts_ns;
      (*self->on_latency)(out);
    }
  } else if ((type == COLO_EVENT_MKDIR || type == COLO_EVENT_RMDIR) &&
             size >= sizeof(colo_cgroup_event)) {
    // The record is large; read the fields in place rather than copying it to the stack.
    const auto* e = static_cast<const colo_cgroup_event*>(data);
    if (self->on_cgroup != nullptr && *self->on_cgroup) {
      CgroupEvent out;
      out.kind = type == COLO_EVENT_MKDIR ? CgroupEvent::Kind::kMkdir : CgroupEvent::Kind::kRmdir;
      out.cgroup = CgroupRef{hierarchyFromAbi(e->hierarchy), e->cgroup_id};
      out.path = pathFromAbi(e->info);
      out.timestamp_ns = e->info.created_ns;
      (*self->on_cgroup)(out);
    }
  }
  return 0;
}

Result<std::unique_ptr<SchedProbe>> SchedProbe::load(const ProbeOptions& options) {
  installLibbpfLogger();
  if (::access(kBtfPath, R_OK) != 0) {
    return failErrno(errno, fmt::format("no BTF at {}: this kernel was built without "
                                        "CONFIG_DEBUG_INFO_BTF; colod needs a kernel with BTF",
                                        kBtfPath));
  }
  if (options.max_cgroups == 0) {
    return failInvalid("max_cgroups must be positive");
  }
  int watch_id = 0;  // the v2 default hierarchy is hierarchy 0
  if (options.hierarchy == Hierarchy::kV1Cpu) {
    auto id = cpuV1HierarchyId();
    if (!id) {
      return fail(id.error().wrap("find the cgroup v1 cpu hierarchy"));
    }
    watch_id = *id;
  }
  Error tp_btf_error;
  if (!options.force_raw_tp) {
    auto impl = Impl::loadBest(options, true, watch_id);
    if (impl) {
      return std::unique_ptr<SchedProbe>(new SchedProbe(std::move(*impl)));
    }
    if (impl.error().code() == EPERM) {
      return fail(impl.error());
    }
    tp_btf_error = impl.error();
    log::warn(kLog, "tp_btf programs unavailable ({}); falling back to raw_tp",
              tp_btf_error.message());
  }
  auto impl = Impl::loadBest(options, false, watch_id);
  if (!impl) {
    if (!tp_btf_error.message().empty()) {
      return fail(impl.error().wrap(fmt::format("tp_btf: {}; raw_tp", tp_btf_error.message())));
    }
    return fail(impl.error());
  }
  return std::unique_ptr<SchedProbe>(new SchedProbe(std::move(*impl)));
}

namespace {

Error withPermissionHint(Error e) {
  if (e.code() == EPERM) {
    return Error(EPERM, e.message() + ": run as root or grant CAP_BPF+CAP_PERFMON");
  }
  return e;
}

}  // namespace

Result<std::unique_ptr<SchedProbe::Impl>> SchedProbe::Impl::loadBest(const ProbeOptions& options,
                                                                     bool btf,
                                                                     int watch_hierarchy_id) {
  if (!options.force_wakeup_delays) {
    auto impl = loadMode(options, btf, true, watch_hierarchy_id);
    Status st = impl ? (*impl)->checkSchedInfo() : Status(fail(impl.error()));
    if (st) {
      return impl;
    }
    if (st.error().code() == EPERM) {
      return fail(st.error());
    }
    log::warn(kLog, "sched_info delays unavailable ({}); stamping wakeups instead",
              st.error().message());
    // Detach before loading again: the second set reuses the pinned maps.
    if (impl) {
      (*impl)->events.reset();
      (*impl)->links.clear();
      impl->reset();
    }
  }
  return loadMode(options, btf, false, watch_hierarchy_id);
}

Status SchedProbe::Impl::checkSchedInfo() {
  auto before = fds.readCounters();
  if (!before) {
    return fail(before.error());
  }
  // A pipe ping-pong with a second thread: every read blocks, so each round trip switches
  // both threads in at least once (on the same or another CPU).
  constexpr int kRounds = 50;
  int ping[2];
  int pong[2];
  if (::pipe(ping) != 0) {
    return failErrno(errno, "pipe");
  }
  if (::pipe(pong) != 0) {
    int err = errno;
    ::close(ping[0]);
    ::close(ping[1]);
    return failErrno(err, "pipe");
  }
  UniqueFd ping_r(ping[0]), ping_w(ping[1]), pong_r(pong[0]), pong_w(pong[1]);
  std::thread echo([&] {
    char b = 0;
    for (int i = 0; i < kRounds; ++i) {
      if (::read(ping_r.get(), &b, 1) != 1 || ::write(pong_w.get(), &b, 1) != 1) {
        return;
      }
    }
  });
  char b = 0;
  int done = 0;
  for (; done < kRounds; ++done) {
    if (::write(ping_w.get(), &b, 1) != 1 || ::read(pong_r.get(), &b, 1) != 1) {
      break;
    }
  }
  ping_w.reset();  // ends the echo thread if the loop broke off
  echo.join();
  auto after = fds.readCounters();
  if (!after) {
    return fail(after.error());
  }
  uint64_t bad = after->no_enqueue_time - before->no_enqueue_time;
  if (done < kRounds || bad > kRounds / 2) {
    return failErrno(EPROTO, fmt::format("{} of {} test round trips; {} switch-ins without a sane "
                                         "sched_info.last_queued",
                                         done, kRounds, bad));
  }
  return ok();
}

Result<std::unique_ptr<SchedProbe::Impl>> SchedProbe::Impl::loadMode(const ProbeOptions& options,
                                                                     bool btf, bool sched_info,
                                                                     int watch_hierarchy_id) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->mode = btf ? (sched_info ? "tp_btf+sched_info" : "tp_btf+wakeup")
                   : (sched_info ? "raw_tp+sched_info" : "raw_tp+wakeup");
  errno = 0;
  impl->skel = Skeleton<sched_bpf>(sched_bpf__open(), sched_bpf__destroy);
  if (!impl->skel) {
    return failErrno(errno ? errno : EINVAL, "open BPF skeleton sched");
  }
  sched_bpf* skel = impl->skel.get();
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) {
    return failErrno(ncpus < 0 ? -ncpus : EINVAL, "count possible CPUs");
  }
  skel->rodata->hierarchy = static_cast<uint32_t>(options.hierarchy);
  skel->rodata->watch_hierarchy_id = watch_hierarchy_id;
  skel->rodata->nr_cpus = static_cast<uint32_t>(ncpus);
  skel->rodata->track_unclassified = options.track_unclassified;
  skel->rodata->sched_info_delays = sched_info;

  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel->obj) {
    bpf_program__set_autoload(prog,
                              isBtfProgram(prog) == btf && !(sched_info && isWakeupProgram(prog)));
  }
  for (bpf_map* m : {skel->maps.stats, skel->maps.slots, skel->maps.free_slots, skel->maps.tiers,
                     skel->maps.cgroups}) {
    if (int rc = bpf_map__set_max_entries(m, options.max_cgroups); rc != 0) {
      return fail(Error::fromErrno(-rc, "size per-cgroup maps"));
    }
  }
  // The pid-keyed fallback is only used by raw_tp programs.
  if (int rc = bpf_map__set_max_entries(skel->maps.task_ctx_by_pid,
                                        btf ? static_cast<uint32_t>(ncpus) : 65536u);
      rc != 0) {
    return fail(Error::fromErrno(-rc, "size task_ctx_by_pid"));
  }

  if (options.pin) {
    if (auto st = impl->preparePins(); !st) {
      return fail(st.error());
    }
  }
  auto maps = pinnedMaps(skel);
  std::vector<bool> reused_maps;
  for (auto& m : maps) {
    // bpf_map__reuse_fd() leaves the map's fd set before load; nothing else does.
    reused_maps.push_back(options.pin && bpf_map__fd(m.map) >= 0);
  }

  if (int rc = sched_bpf__load(skel); rc != 0) {
    return fail(withPermissionHint(
        Error::fromErrno(-rc, fmt::format("load BPF programs ({})", impl->mode))));
  }
  if (options.pin) {
    if (auto st = impl->pinNew(reused_maps); !st) {
      return fail(st.error());
    }
  }

  impl->fds.stats = bpf_map__fd(skel->maps.stats);
  impl->fds.slots = bpf_map__fd(skel->maps.slots);
  impl->fds.tiers = bpf_map__fd(skel->maps.tiers);
  impl->fds.cgroups = bpf_map__fd(skel->maps.cgroups);
  impl->fds.config = bpf_map__fd(skel->maps.sched_config);
  impl->fds.counters = bpf_map__fd(skel->maps.counters);

  // Fresh maps: every stats slot is free. (Reused ones keep their slots; preparePins() reuses
  // the three stats maps together or not at all.)
  if (!impl->reused) {
    int free_fd = bpf_map__fd(skel->maps.free_slots);
    for (uint32_t slot = 0; slot < options.max_cgroups; ++slot) {
      if (bpf_map_update_elem(free_fd, nullptr, &slot, BPF_ANY) != 0) {
        return failErrno(errno, "fill the free_slots queue");
      }
    }
  }

  // Keep the thresholds of reused maps; (re)state the version and the rate limit; bump tier_gen
  // so no task context caches a tier across the reload.
  auto cfg = impl->fds.readConfig();
  if (!cfg) {
    return fail(cfg.error());
  }
  cfg->abi_version = COLO_SCHED_ABI_VERSION;
  cfg->events_per_sec = options.events_per_sec;
  cfg->tier_gen++;
  if (auto st = impl->fds.writeConfig(*cfg); !st) {
    return fail(st.error());
  }

  bpf_object__for_each_program(prog, skel->obj) {
    if (!bpf_program__autoload(prog)) {
      continue;
    }
    errno = 0;
    bpf_link* link = bpf_program__attach(prog);
    if (link == nullptr) {
      int err = errno ? errno : EINVAL;
      return fail(withPermissionHint(
          Error::fromErrno(err, fmt::format("attach {}", bpf_program__name(prog)))));
    }
    impl->links.emplace_back(link);
  }

  Impl* raw = impl.get();
  errno = 0;
  ring_buffer* rb =
      ring_buffer__new(bpf_map__fd(skel->maps.latency_events), &Impl::onEvent, raw, nullptr);
  if (rb == nullptr) {
    return failErrno(errno ? errno : ENOMEM, "open latency ring buffer");
  }
  impl->events.reset(rb);
  if (int rc = ring_buffer__add(rb, bpf_map__fd(skel->maps.cgroup_events), &Impl::onEvent, raw);
      rc != 0) {
    return fail(Error::fromErrno(-rc, "open cgroup ring buffer"));
  }
  log::info(kLog, "sched probe attached ({}, {} hierarchy id {}, {} CPUs{})", impl->mode,
            options.hierarchy == Hierarchy::kV2 ? "cgroup v2" : "cgroup v1 cpu", watch_hierarchy_id,
            ncpus, options.pin ? fmt::format(", maps pinned in {}", options.pin_dir) : "");
  return impl;
}

SchedProbe::SchedProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SchedProbe::~SchedProbe() {
  if (impl_) {
    impl_->events.reset();
    impl_->links.clear();  // detach before the skeleton (and its programs) go
  }
}

const char* SchedProbe::attachMode() const { return impl_->mode; }
bool SchedProbe::reusedPinnedMaps() const { return impl_->reused; }

Result<std::vector<CgroupSchedStats>> SchedProbe::readStats() { return impl_->fds.readStats(); }
Status SchedProbe::readStatsInto(std::vector<CgroupSchedStats>* out) {
  return impl_->fds.readStatsInto(out);
}

Status SchedProbe::setTier(CgroupRef cgroup, Tier tier) {
  if (cgroup.hierarchy != impl_->options.hierarchy) {
    return failInvalid(
        fmt::format("set tier of cgroup {}: it belongs to another hierarchy than "
                    "the one the probe attributes delays to",
                    cgroup.id));
  }
  colo_cgroup_key key = keyOf(cgroup);
  if (tier == Tier::kNone) {
    if (bpf_map_delete_elem(impl_->fds.tiers, &key) != 0 && errno != ENOENT) {
      return failErrno(errno, fmt::format("clear tier of cgroup {}", cgroup.id));
    }
  } else {
    colo_tier_value value{};
    value.tier = static_cast<uint32_t>(tier);
    if (bpf_map_update_elem(impl_->fds.tiers, &key, &value, BPF_ANY) != 0) {
      return failErrno(errno, fmt::format("set tier of cgroup {}", cgroup.id));
    }
  }
  return impl_->bumpTierGen();
}

Status SchedProbe::forget(CgroupRef cgroup) {
  colo_cgroup_key key = keyOf(cgroup);
  for (int fd : {impl_->fds.tiers, impl_->fds.cgroups}) {
    if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) {
      return failErrno(errno, fmt::format("forget cgroup {}", cgroup.id));
    }
  }
  uint32_t slot = 0;
  bool free_slot = false;
  if (bpf_map_lookup_elem(impl_->fds.slots, &key, &slot) == 0) {
    // Whoever deletes the entry (here or the BPF rmdir handler) frees the slot, once.
    if (bpf_map_delete_elem(impl_->fds.slots, &key) == 0) {
      free_slot = true;
    } else if (errno != ENOENT) {
      return failErrno(errno, fmt::format("forget cgroup {}", cgroup.id));
    }
  } else if (errno != ENOENT) {
    return failErrno(errno, fmt::format("forget cgroup {}", cgroup.id));
  }
  // The tier_gen bump makes BPF drop its cached slots before the slot can be taken again.
  if (auto st = impl_->bumpTierGen(); !st) {
    return st;
  }
  if (free_slot && bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.free_slots), nullptr, &slot,
                                       BPF_ANY) != 0) {
    return failErrno(errno, fmt::format("forget cgroup {}: free its stats slot", cgroup.id));
  }
  return ok();
}

Status SchedProbe::setThreshold(Tier tier, uint64_t threshold_ns) {
  auto index = static_cast<int>(tier);
  if (index <= 0 || index >= kTierCount) {
    return failInvalid(fmt::format("set threshold: no such tier {}", index));
  }
  auto cfg = impl_->fds.readConfig();
  if (!cfg) {
    return fail(cfg.error());
  }
  cfg->threshold_ns[index] = threshold_ns;
  return impl_->fds.writeConfig(*cfg);
}

Status SchedProbe::setEventsPerSec(uint32_t events_per_sec) {
  auto cfg = impl_->fds.readConfig();
  if (!cfg) {
    return fail(cfg.error());
  }
  cfg->events_per_sec = events_per_sec;
  return impl_->fds.writeConfig(*cfg);
}

Result<ProbeCounters> SchedProbe::counters() { return impl_->fds.readCounters(); }

Result<std::vector<CgroupName>> SchedProbe::readCgroupNames() {
  return impl_->fds.readCgroupNames();
}

Result<std::vector<ProgramStats>> SchedProbe::programStats() const {
  std::vector<ProgramStats> out;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, impl_->skel->obj) {
    if (!bpf_program__autoload(prog)) {
      continue;
    }
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0) {
      return failErrno(errno, fmt::format("inspect program {}", bpf_program__name(prog)));
    }
    out.push_back(ProgramStats{bpf_program__name(prog), info.run_cnt, info.run_time_ns});
  }
  return out;
}

int SchedProbe::eventFd() const { return ring_buffer__epoll_fd(impl_->events.get()); }

Status SchedProbe::consumeEvents(const std::function<void(const LatencyEvent&)>& on_latency,
                                 const std::function<void(const CgroupEvent&)>& on_cgroup) {
  impl_->on_latency = &on_latency;
  impl_->on_cgroup = &on_cgroup;
  int rc = ring_buffer__consume(impl_->events.get());
  impl_->on_latency = nullptr;
  impl_->on_cgroup = nullptr;
  if (rc < 0) {
    return fail(Error::fromErrno(-rc, "consume BPF ring buffers"));
  }
  return ok();
}

// ---------------------------------------------------------------------------------------------
// PinnedSchedMaps

struct PinnedSchedMaps::Impl {
  UniqueFd stats, slots, tiers, cgroups, config, counters;
  MapFds fds() const {
    return MapFds{stats.get(),   slots.get(),  tiers.get(),
                  cgroups.get(), config.get(), counters.get()};
  }
};

Result<PinnedSchedMaps> PinnedSchedMaps::open(const std::string& pin_dir) {
  auto impl = std::make_unique<Impl>();
  struct Want {
    const char* name;
    UniqueFd* fd;
    uint32_t key_size;
    uint32_t value_size;
  };
  const Want wants[] = {
      {kPinConfig, &impl->config, sizeof(uint32_t), sizeof(colo_sched_config)},
      {kPinStats, &impl->stats, sizeof(uint32_t), sizeof(colo_cgroup_stats)},
      {kPinSlots, &impl->slots, sizeof(colo_cgroup_key), sizeof(uint32_t)},
      {kPinTiers, &impl->tiers, sizeof(colo_cgroup_key), sizeof(colo_tier_value)},
      {kPinCgroups, &impl->cgroups, sizeof(colo_cgroup_key), sizeof(colo_cgroup_info)},
      {kPinCounters, &impl->counters, sizeof(uint32_t), sizeof(uint64_t)},
  };
  for (const auto& w : wants) {
    std::string path = pinPath(pin_dir, w.name);
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) {
        return failErrno(ENOENT, fmt::format("no BPF map pinned at {}: is colod running (it pins "
                                             "its maps under {})?",
                                             path, pin_dir));
      }
      return fail(withPermissionHint(Error::fromErrno(err, fmt::format("open {}", path))));
    }
    w.fd->reset(fd);
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
      return failErrno(errno, fmt::format("inspect {}", path));
    }
    if (w.fd == &impl->config) {
      if (info.value_size >= sizeof(uint32_t)) {
        // abi_version is the first field of every version of the config value.
        std::vector<uint8_t> value(info.value_size);
        if (bpf_map_lookup_elem(fd, &kConfigKey, value.data()) != 0) {
          return failErrno(errno, fmt::format("read {}", path));
        }
        uint32_t version = 0;
        std::memcpy(&version, value.data(), sizeof(version));
        if (version != COLO_SCHED_ABI_VERSION) {
          return failErrno(EPROTO,
                           fmt::format("maps pinned in {} have ABI version {}, this "
                                       "binary reads version {}: use the coloctl of the "
                                       "same colo release as colod, or restart colod "
                                       "to replace them",
                                       pin_dir, version, static_cast<int>(COLO_SCHED_ABI_VERSION)));
        }
      }
    }
    if (info.key_size != w.key_size || info.value_size != w.value_size) {
      return failErrno(EPROTO, fmt::format("pinned map {} has key/value size {}/{}, this binary "
                                           "expects {}/{} (ABI version {}): restart colod to "
                                           "replace it",
                                           path, info.key_size, info.value_size, w.key_size,
                                           w.value_size, static_cast<int>(COLO_SCHED_ABI_VERSION)));
    }
  }
  return PinnedSchedMaps(std::move(impl));
}

PinnedSchedMaps::PinnedSchedMaps(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PinnedSchedMaps::PinnedSchedMaps(PinnedSchedMaps&&) noexcept = default;
PinnedSchedMaps& PinnedSchedMaps::operator=(PinnedSchedMaps&&) noexcept = default;
PinnedSchedMaps::~PinnedSchedMaps() = default;

Result<std::vector<CgroupSchedStats>> PinnedSchedMaps::readStats() const {
  return impl_->fds().readStats();
}
Result<std::vector<std::pair<CgroupRef, Tier>>> PinnedSchedMaps::readTiers() const {
  return impl_->fds().readTiers();
}
Result<std::array<uint64_t, kTierCount>> PinnedSchedMaps::readThresholds() const {
  return impl_->fds().readThresholds();
}
Result<ProbeCounters> PinnedSchedMaps::counters() const { return impl_->fds().readCounters(); }
Result<std::vector<CgroupName>> PinnedSchedMaps::readCgroupNames() const {
  return impl_->fds().readCgroupNames();
}

// ---------------------------------------------------------------------------------------------

}  // namespace colo::bpf
