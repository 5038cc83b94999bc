#include "kmods-free/feature_probe.h"

#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <set>

#include "kmods-free/task_slice.h"

namespace colo::kmods {
namespace {

#ifndef PR_SCHED_CORE
#define PR_SCHED_CORE 62
#endif
#ifndef PR_SCHED_CORE_GET
#define PR_SCHED_CORE_GET 0
#endif
constexpr int kPidTypePid = 0;  // PIDTYPE_PID

bool hasWord(std::string_view text, std::string_view word) {
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n')) {
      ++pos;
    }
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n') {
      ++end;
    }
    if (text.substr(pos, end - pos) == word) {
      return true;
    }
    pos = end;
  }
  return false;
}

// A cgroup directory to look for per-cgroup files in: our own probe cgroup when it could be
// made, otherwise an existing child inspected read-only.
struct ProbeDir {
  std::string path;
  bool created = false;
};

std::optional<ProbeDir> openProbeDir(const ProbeEnv& env, const std::string& root,
                                     const std::string& name, KernelFeatures* f) {
  std::string path = joinPath(root, name);
  if (env.make_dir) {
    auto st = env.make_dir(path);
    if (st) {
      return ProbeDir{path, true};
    }
    if (st.error().code() == EEXIST) {
      return ProbeDir{path, false};
    }
    f->notes.push_back(
        fmt::format("cannot create probe cgroup {}: {}; inspecting an existing "
                    "child instead",
                    path, st.error().message()));
  }
  auto children = env.fs->listDirs(root);
  if (children && !children->empty()) {
    return ProbeDir{joinPath(root, children->front()), false};
  }
  f->notes.push_back("no child cgroup under " + root + " to inspect: per-cgroup files not probed");
  return std::nullopt;
}

void closeProbeDir(const ProbeEnv& env, const ProbeDir& dir, KernelFeatures* f) {
  if (dir.created && env.remove_dir) {
    if (auto st = env.remove_dir(dir.path); !st) {
      f->notes.push_back("could not remove probe cgroup: " + st.error().message());
    }
  }
}

}  // namespace

Result<ProbeEnv> realProbeEnv(FileSystem* fs) {
  auto mounts = detectCgroupMounts();
  if (!mounts) {
    return fail(mounts.error().wrap("probe kernel features"));
  }
  ProbeEnv env;
  env.fs = fs;
  env.mounts = *mounts;
  env.make_dir = [](const std::string& p) -> Status {
    if (::mkdir(p.c_str(), 0755) != 0) {
      return failErrno(errno, "mkdir " + p);
    }
    return ok();
  };
  env.remove_dir = [](const std::string& p) -> Status {
    if (::rmdir(p.c_str()) != 0) {
      return failErrno(errno, "rmdir " + p);
    }
    return ok();
  };
  env.custom_slice = [] { return probeCustomSlice(); };
  env.core_sched_errno = [] {
    unsigned long cookie = 0;
    if (::prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, 0, kPidTypePid,
                reinterpret_cast<unsigned long>(&cookie)) == 0) {
      return 0;
    }
    return errno;
  };
  return env;
}

Result<KernelFeatures> probeFeatures(const ProbeEnv& env) {
  if (env.fs == nullptr) {
    return failInvalid("probe kernel features: no file system");
  }
  KernelFeatures f;
  f.mounts = env.mounts;
  auto version = env.mounts.cpuVersion();
  f.cpu_hierarchy = !version ? "none" : (*version == CgroupVersion::kV2 ? "v2" : "v1");
  if (env.mounts.unified.empty() && env.mounts.v1.empty()) {
    return failErrno(ENOENT,
                     "probe kernel features: no cgroup hierarchy is mounted (mount "
                     "cgroup2 on /sys/fs/cgroup, or the v1 controllers)");
  }
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "io", "blkio", "pids"}) {
    ControllerSupport s;
    if (auto it = env.mounts.v1.find(c); it != env.mounts.v1.end()) {
      s.v1_mount = it->second;
    }
    s.v2 = !env.mounts.unified.empty() && hasWord(env.mounts.unified_controllers, c);
    if (!s.v1_mount.empty() || s.v2) {
      f.controllers[c] = s;
    }
  }

  std::string name =
      env.probe_name.empty() ? "colo-probe-" + std::to_string(::getpid()) : env.probe_name;
  // One probe cgroup per hierarchy that carries cpu, cpuset or memory.
  std::map<std::string, std::set<std::string>> roots;  // root -> controllers there
  for (const char* c : {"cpu", "cpuset", "memory"}) {
    if (auto m = env.mounts.mountFor(c)) {
      roots[*m].insert(c);
    }
  }
  for (const auto& [root, ctrls] : roots) {
    bool v2 = root == env.mounts.unified;
    if (v2) {
      auto subtree = env.fs->readFile(joinPath(root, "cgroup.subtree_control"));
      for (const auto& c : ctrls) {
        if (!subtree || !hasWord(*subtree, c)) {
          f.notes.push_back(
              fmt::format("{} is not enabled in {}/cgroup.subtree_control: its "
                          "files cannot appear in child cgroups",
                          c, root));
        }
      }
    }
    auto dir = openProbeDir(env, root, name, &f);
    if (!dir) {
      continue;
    }
    auto has = [&](const char* file) { return env.fs->exists(joinPath(dir->path, file)); };
    if (ctrls.count("cpu") != 0) {
      f.cpu_idle = has("cpu.idle");
      f.group_identity = has("cpu.bvt_warp_ns");
      if (v2) {
        f.cpu_burst = has("cpu.max.burst");
        f.cpu_quota = has("cpu.max");
        f.cpu_weight = has("cpu.weight");
      } else {
        f.cpu_burst = has("cpu.cfs_burst_us");
        f.cpu_quota = has("cpu.cfs_quota_us");
        f.cpu_weight = has("cpu.shares");
      }
      f.psi_cgroup = has("cpu.pressure");
    }
    if (ctrls.count("cpuset") != 0) {
      f.cpuset = has("cpuset.cpus");
      f.cpuset_partition = v2 && has("cpuset.cpus.partition");
      f.cpuset_exclusive = !v2 && has("cpuset.cpu_exclusive");
    }
    if (ctrls.count("memory") != 0) {
      f.memory_high = v2 && has("memory.high");
      f.memory_soft_limit = !v2 && has("memory.soft_limit_in_bytes");
    }
    closeProbeDir(env, *dir, &f);
  }

  f.psi = static_cast<bool>(env.fs->readFile(joinPath(env.proc_root, "pressure/cpu")));
  f.btf = env.fs->exists(joinPath(env.sys_root, "kernel/btf/vmlinux"));
  if (auto state = env.fs->readFile(joinPath(env.sys_root, "kernel/sched_ext/state"))) {
    f.sched_ext = hasWord(*state, "enabled") ? "enabled" : "disabled";
  } else {
    f.sched_ext =
        env.fs->exists(joinPath(env.sys_root, "kernel/sched_ext")) ? "disabled" : "absent";
  }
  if (env.custom_slice) {
    f.sched_slice_default_ns = env.custom_slice().value_or(0);
  }
  int core_err = env.core_sched_errno ? env.core_sched_errno() : EINVAL;
  if (core_err == 0) {
    f.core_sched = "available";
  } else if (core_err == ENODEV) {
    f.core_sched = "no-smt";
  } else if (core_err == EINVAL) {
    f.core_sched = "absent";
  } else {
    f.core_sched = "unknown";
    f.notes.push_back(
        fmt::format("core scheduling probe: prctl(PR_SCHED_CORE) errno {}", core_err));
  }
  return f;
}

Result<KernelFeatures> probeKernel() {
  static RealFs fs;
  auto env = realProbeEnv(&fs);
  if (!env) {
    return fail(env.error());
  }
  return probeFeatures(*env);
}

namespace {

struct Row {
  std::string name;
  std::string state;
  std::string detail;
};

std::vector<Row> rows(const KernelFeatures& f) {
  auto yn = [](bool b) { return std::string(b ? "yes" : "no"); };
  bool v2 = f.cpu_hierarchy == "v2";
  std::vector<Row> out;
  out.push_back({"cpu hierarchy", f.cpu_hierarchy, "where the cpu controller lives"});
  for (const auto& [c, s] : f.controllers) {
    std::string where;
    if (!s.v1_mount.empty()) {
      where = "v1 " + s.v1_mount;
    }
    if (s.v2) {
      where += (where.empty() ? "" : ", ") + std::string("v2 ") + f.mounts.unified;
    }
    out.push_back({"controller " + c, s.v2 && s.v1_mount.empty() ? "v2" : "v1", where});
  }
  out.push_back({"cpu.idle", yn(f.cpu_idle), "BE cgroups get SCHED_IDLE semantics"});
  out.push_back({v2 ? "cpu.weight" : "cpu.shares", yn(f.cpu_weight), "LS/BE weights"});
  out.push_back({v2 ? "cpu.max" : "cpu.cfs_quota_us", yn(f.cpu_quota), "hard cap only"});
  out.push_back({v2 ? "cpu.max.burst" : "cpu.cfs_burst_us", yn(f.cpu_burst), "LS throttle relief"});
  out.push_back({"cpuset.cpus", yn(f.cpuset), "CPU pools (LSX exclusive, BE pool)"});
  out.push_back({"cpuset partitions", yn(f.cpuset_partition), "cpuset.cpus.partition (v2)"});
  out.push_back({"cpuset.cpu_exclusive", yn(f.cpuset_exclusive), "v1"});
  out.push_back({"memory.high", yn(f.memory_high), "BE memory cap (v2)"});
  out.push_back({"memory.soft_limit", yn(f.memory_soft_limit), "BE memory cap (v1)"});
  out.push_back({"PSI", yn(f.psi), "/proc/pressure/cpu"});
  out.push_back({"PSI per cgroup", yn(f.psi_cgroup), "cpu.pressure"});
  out.push_back({"group identity", yn(f.group_identity), "cpu.bvt_warp_ns (vendor kernels)"});
  out.push_back(
      {"EEVDF task slice", yn(f.sched_slice_default_ns != 0),
       f.sched_slice_default_ns != 0
           ? fmt::format("sched_setattr sched_runtime (default {:.2f} ms): BE tasks get a "
                         "long slice",
                         static_cast<double>(f.sched_slice_default_ns) / 1e6)
           : std::string("sched_setattr sched_runtime (Linux 6.12+)")});
  out.push_back({"BTF", yn(f.btf), "/sys/kernel/btf/vmlinux"});
  out.push_back({"core scheduling", f.core_sched, "prctl(PR_SCHED_CORE)"});
  out.push_back({"sched_ext", f.sched_ext, "/sys/kernel/sched_ext"});
  return out;
}

}  // namespace

void printFeaturesTable(const KernelFeatures& f, std::ostream& out) {
  auto rs = rows(f);
  size_t w0 = 7;
  size_t w1 = 5;
  for (const auto& r : rs) {
    w0 = std::max(w0, r.name.size());
    w1 = std::max(w1, r.state.size());
  }
  out << fmt::format("{:<{}}  {:<{}}  {}\n", "FEATURE", w0, "STATE", w1, "DETAIL");
  for (const auto& r : rs) {
    out << fmt::format("{:<{}}  {:<{}}  {}\n", r.name, w0, r.state, w1, r.detail);
  }
  for (const auto& n : f.notes) {
    out << "note: " << n << "\n";
  }
}

std::string featuresJson(const KernelFeatures& f) {
  nlohmann::json j;
  j["cpu_hierarchy"] = f.cpu_hierarchy;
  nlohmann::json ctrls = nlohmann::json::object();
  for (const auto& [c, s] : f.controllers) {
    ctrls[c] = {{"v1_mount", s.v1_mount}, {"v2", s.v2}};
  }
  j["controllers"] = ctrls;
  j["cgroup2_mount"] = f.mounts.unified;
  j["cpu_idle"] = f.cpu_idle;
  j["cpu_weight"] = f.cpu_weight;
  j["cpu_quota"] = f.cpu_quota;
  j["cpu_burst"] = f.cpu_burst;
  j["cpuset"] = f.cpuset;
  j["cpuset_partition"] = f.cpuset_partition;
  j["cpuset_exclusive"] = f.cpuset_exclusive;
  j["memory_high"] = f.memory_high;
  j["memory_soft_limit"] = f.memory_soft_limit;
  j["psi"] = f.psi;
  j["psi_cgroup"] = f.psi_cgroup;
  j["group_identity"] = f.group_identity;
  j["sched_slice"] = f.sched_slice_default_ns != 0;
  j["sched_slice_default_ns"] = f.sched_slice_default_ns;
  j["btf"] = f.btf;
  j["core_sched"] = f.core_sched;
  j["sched_ext"] = f.sched_ext;
  j["notes"] = f.notes;
  return j.dump(2);
}

}  // namespace colo::kmods
