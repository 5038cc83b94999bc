#include "common/cgroup_mounts.h"

#include <sstream>
#include <vector>

#include "common/fs.h"

namespace colo {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      end = s.size();
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool hasWord(std::string_view list, std::string_view word) {
  for (auto w : split(list, ' ')) {
    while (!w.empty() && (w.back() == '\n' || w.back() == '\r')) {
      w.remove_suffix(1);
    }
    if (w == word) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<CgroupVersion> CgroupMounts::cpuVersion() const {
  if (!unified.empty() && hasWord(unified_controllers, "cpu")) {
    return CgroupVersion::kV2;
  }
  if (v1.count("cpu") != 0) {
    return CgroupVersion::kV1;
  }
  return std::nullopt;
}

std::optional<std::string> CgroupMounts::mountFor(std::string_view controller) const {
  if (auto it = v1.find(std::string(controller)); it != v1.end()) {
    return it->second;
  }
  if (!unified.empty() && hasWord(unified_controllers, controller)) {
    return unified;
  }
  return std::nullopt;
}

CgroupMounts parseMountinfo(std::string_view mountinfo, std::string_view controllers_of_v2) {
  CgroupMounts out;
  out.unified_controllers = std::string(controllers_of_v2);
  for (auto line : split(mountinfo, '\n')) {
    // "36 25 0:31 / /sys/fs/cgroup/cpu rw,relatime shared:12 - cgroup cgroup rw,cpu"
    auto dash = line.find(" - ");
    if (dash == std::string_view::npos) {
      continue;
    }
    auto left = split(line.substr(0, dash), ' ');
    auto right = split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) {
      continue;
    }
    std::string_view mount_point = left[4];
    std::string_view fstype = right[0];
    if (fstype == "cgroup2") {
      if (out.unified.empty()) {
        out.unified = std::string(mount_point);
      }
    } else if (fstype == "cgroup") {
      for (auto opt : split(right[2], ',')) {
        if (opt == "rw" || opt == "ro" || opt.starts_with("name=") || opt.find('=') != opt.npos ||
            opt == "relatime" || opt == "noexec" || opt == "nosuid" || opt == "nodev") {
          continue;
        }
        out.v1.emplace(std::string(opt), std::string(mount_point));
      }
    }
  }
  return out;
}

Result<CgroupMounts> detectCgroupMounts() {
  RealFs fs;
  auto info = fs.readFile("/proc/self/mountinfo");
  if (!info) {
    return fail(info.error().wrap("detect cgroup mounts"));
  }
  CgroupMounts probe = parseMountinfo(*info, "");
  std::string controllers;
  if (!probe.unified.empty()) {
    if (auto c = fs.readFile(joinPath(probe.unified, "cgroup.controllers"))) {
      controllers = *c;
    }
  }
  CgroupMounts mounts = parseMountinfo(*info, controllers);
  if (!mounts.cpuVersion()) {
    return failErrno(ENOENT,
                     "no cgroup hierarchy carries the cpu controller (is cgroupfs mounted? "
                     "mount -t cgroup2 none /sys/fs/cgroup)");
  }
  return mounts;
}

}  // namespace colo
