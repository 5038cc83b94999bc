#include "agent/node_stats.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "agent/cgroup_stats.h"

namespace colo::agent {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool parseU64(std::string_view s, uint64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

Result<CpuTimes> parseProcStat(std::string_view text) {
  std::string_view line = text.substr(0, text.find('\n'));
  if (!line.starts_with("cpu ")) {
    return failInvalid("/proc/stat: first line is not the aggregate \"cpu\" line");
  }
  line.remove_prefix(4);
  // user nice system idle iowait irq softirq steal [guest guest_nice] (guest is inside user)
  uint64_t v[8] = {};
  int n = 0;
  while (n < 8) {
    line = trim(line);
    if (line.empty()) {
      break;
    }
    size_t sp = line.find(' ');
    std::string_view field = line.substr(0, sp);
    if (!parseU64(field, &v[n])) {
      return failInvalid("/proc/stat: bad number '" + std::string(field) + "'");
    }
    ++n;
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp);
  }
  if (n < 4) {
    return failInvalid("/proc/stat: cpu line has fewer than 4 fields");
  }
  CpuTimes t;
  t.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  t.total = t.busy + v[3] + v[4];
  return t;
}

Result<MemInfo> parseMemInfo(std::string_view text) {
  MemInfo m;
  bool have_total = false, have_avail = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view key = line.substr(0, colon);
    std::string_view rest = trim(line.substr(colon + 1));
    if (rest.ends_with(" kB")) {
      rest.remove_suffix(3);
    }
    uint64_t kb = 0;
    if (key == "MemTotal" && parseU64(trim(rest), &kb)) {
      m.total_bytes = kb * 1024;
      have_total = true;
    } else if (key == "MemAvailable" && parseU64(trim(rest), &kb)) {
      m.available_bytes = kb * 1024;
      have_avail = true;
    }
  }
  if (!have_total || !have_avail) {
    return failInvalid("/proc/meminfo: MemTotal or MemAvailable missing");
  }
  return m;
}

Result<std::vector<int>> parseCpuListText(std::string_view text) {
  std::vector<int> out;
  text = trim(text);
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (part.empty()) {
      continue;
    }
    size_t dash = part.find('-');
    uint64_t lo = 0, hi = 0;
    if (!parseU64(part.substr(0, dash), &lo) ||
        !parseU64(dash == std::string_view::npos ? part : part.substr(dash + 1), &hi) || hi < lo ||
        hi > 65535) {
      return failInvalid("bad cpu list '" + std::string(part) + "'");
    }
    for (uint64_t c = lo; c <= hi; ++c) {
      out.push_back(static_cast<int>(c));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void SignalTracker::ok(const std::string& name, int64_t now_ns) {
  Entry& e = entries_[name];
  e.last_ok_ns = now_ns;
  e.failures = 0;
}

void SignalTracker::failed(const std::string& name, int64_t now_ns) {
  auto [it, inserted] = entries_.try_emplace(name);
  if (inserted) {
    it->second.last_ok_ns = now_ns;  // age counts from the first attempt
  }
  ++it->second.failures;
}

std::vector<policy::SignalHealth> SignalTracker::health(int64_t now_ns) const {
  std::vector<policy::SignalHealth> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) {
    out.push_back(
        policy::SignalHealth{name, std::max<int64_t>(0, now_ns - e.last_ok_ns), e.failures});
  }
  return out;
}

NodeSampler::NodeSampler(const FileSystem& fs, std::string proc_root, std::string sys_root)
    : fs_(fs),
      stat_path_(proc_root + "/stat"),
      meminfo_path_(proc_root + "/meminfo"),
      psi_path_(proc_root + "/pressure/memory"),
      online_path_(sys_root + "/devices/system/cpu/online"),
      possible_path_(sys_root + "/devices/system/cpu/possible") {
  long hz = ::sysconf(_SC_CLK_TCK);
  if (hz > 0) {
    user_hz_ = hz;
  }
}

NodeSampler::Reading NodeSampler::sample(int64_t now_ns, SignalTracker* signals) {
  Reading r;
  auto stat = fs_.readFileKeptInto(stat_path_, &stat_fd_, &buf_);
  Result<CpuTimes> times = stat ? parseProcStat(buf_) : Result<CpuTimes>(fail(stat.error()));
  if (times) {
    signals->ok("proc-stat", now_ns);
    if (last_cpu_ && now_ns > last_cpu_ns_ && times->busy >= last_cpu_->busy) {
      double busy_s =
          static_cast<double>(times->busy - last_cpu_->busy) / static_cast<double>(user_hz_);
      r.cpu_usage_cores = busy_s / (static_cast<double>(now_ns - last_cpu_ns_) / 1e9);
    }
    last_cpu_ = *times;
    last_cpu_ns_ = now_ns;
  } else {
    signals->failed("proc-stat", now_ns);
  }
  auto mem = fs_.readFileKeptInto(meminfo_path_, &meminfo_fd_, &buf_);
  Result<MemInfo> mi = mem ? parseMemInfo(buf_) : Result<MemInfo>(fail(mem.error()));
  if (mi) {
    signals->ok("meminfo", now_ns);
    r.mem = *mi;
  } else {
    signals->failed("meminfo", now_ns);
  }
  if (!psi_absent_) {
    auto psi = fs_.readFileKeptInto(psi_path_, &psi_fd_, &buf_);
    Result<Pressure> p = psi ? parsePressure(buf_) : Result<Pressure>(fail(psi.error()));
    if (p) {
      r.mem_psi_some_avg10 = p->some_avg10;
      r.mem_psi_full_avg10 = p->full_avg10;
    } else {
      psi_absent_ = true;  // no PSI (or psi=0): the memory guard uses MemAvailable alone
    }
  }
  auto online = fs_.readFileKeptInto(online_path_, &online_fd_, &buf_);
  if (online) {
    if (auto l = parseCpuListText(buf_)) {
      r.online_cpus = std::move(*l);
    }
  }
  auto possible = fs_.readFileKeptInto(possible_path_, &possible_fd_, &buf_);
  if (possible) {
    if (auto l = parseCpuListText(buf_)) {
      r.cpu_count = static_cast<int>(l->size());
    }
  }
  if (r.online_cpus.empty()) {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < n; ++c) {
      r.online_cpus.push_back(static_cast<int>(c));
    }
  }
  if (r.cpu_count == 0) {
    r.cpu_count = static_cast<int>(r.online_cpus.size());
  }
  return r;
}

policy::NodeSnapshot buildNodeSnapshot(const Snapshot& agent, const NodeSampler::Reading& node,
                                       std::vector<policy::SignalHealth> signals, int64_t now_ns) {
  policy::NodeSnapshot s;
  fillNodeSnapshot(agent, node, std::move(signals), now_ns, &s);
  return s;
}

void fillNodeSnapshot(const Snapshot& agent, const NodeSampler::Reading& node,
                      std::vector<policy::SignalHealth> signals, int64_t now_ns,
                      policy::NodeSnapshot* out) {
  policy::NodeSnapshot& s = *out;
  s.now_ns = now_ns;
  s.cpu_count = node.cpu_count;
  s.online_cpus = node.online_cpus;
  s.memory_total_bytes = node.mem ? node.mem->total_bytes : 0;
  s.memory_available_bytes = node.mem ? node.mem->available_bytes : 0;
  s.memory_psi_some_avg10 = node.mem_psi_some_avg10;
  s.memory_psi_full_avg10 = node.mem_psi_full_avg10;
  double containers_cores = 0;
  size_t n = 0;
  for (const ContainerView& c : agent.containers) {
    if (c.tier == bpf::Tier::kNone) {
      continue;
    }
    if (n == s.containers.size()) {
      s.containers.emplace_back();
    }
    policy::ContainerSample& cs = s.containers[n++];
    // Reset every field but keep the strings: the same container (serial) in this slot as last
    // tick keeps them as they are, another one assigns into their storage.
    const uint64_t serial = cs.serial;
    std::string id = std::move(cs.id), cgroup = std::move(cs.cgroup),
                pod_cgroup = std::move(cs.pod_cgroup);
    cs = policy::ContainerSample{};
    cs.id = std::move(id);
    cs.cgroup = std::move(cgroup);
    cs.pod_cgroup = std::move(pod_cgroup);
    cs.serial = c.serial;
    if (c.serial == 0 || serial != c.serial) {
      cs.id.assign(c.id);
      cs.cgroup.assign(c.cgroup);
      cs.pod_cgroup.clear();
      if (!c.pod_uid.empty()) {
        size_t slash = c.cgroup.rfind('/');
        if (slash == std::string::npos || slash == 0) {
          cs.pod_cgroup.assign(c.cgroup);
        } else {
          cs.pod_cgroup.assign(c.cgroup, 0, slash);
        }
      }
    }
    cs.tier = static_cast<policy::Tier>(static_cast<uint8_t>(c.tier));
    cs.cpu_usage_cores = c.have_cpu ? c.usage_cores : 0;
    cs.throttled_ratio = c.have_cpu ? c.throttled_pct / 100.0 : 0;
    cs.runq_p99_ns = c.p99_ns.value_or(0);
    cs.cpu_limit_cores = c.cpu_limit_cores;
    // The working set, as kubelet counts it; 0 until read (or where no memory cgroup is).
    cs.memory_usage_bytes = c.memory ? c.memory->working_set_bytes : 0;
    containers_cores += cs.cpu_usage_cores;
  }
  s.containers.resize(n);
  double node_cores = node.cpu_usage_cores.value_or(containers_cores);
  s.node_cpu_usage_cores = node_cores;
  s.system_cpu_usage_cores = std::max(0.0, node_cores - containers_cores);
  s.signals = std::move(signals);
}

}  // namespace colo::agent
