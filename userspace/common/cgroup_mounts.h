// Where the cgroup hierarchies are mounted, read from /proc/self/mountinfo.
// A node is "v2" when the cpu controller lives on the cgroup2 mount, "v1" when it lives on a
// cgroup v1 mount (hybrid layouts keep a controller-less cgroup2 mount beside it).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace colo {

enum class CgroupVersion { kV1 = 1, kV2 = 2 };

struct CgroupMounts {
  std::string unified;                    // cgroup2 mount point, "" if none
  std::string unified_controllers;        // contents of cgroup.controllers at the v2 root
  std::map<std::string, std::string> v1;  // controller ("cpu", "cpuacct", ...) -> mount point

  // The hierarchy that carries the cpu controller, or nullopt when neither has it.
  std::optional<CgroupVersion> cpuVersion() const;
  // Mount point where `controller` is found: the v1 mount, or the v2 mount if it is enabled there.
  std::optional<std::string> mountFor(std::string_view controller) const;
};

// Parses mountinfo text; `controllers_of_v2` is the v2 root's cgroup.controllers (may be empty).
CgroupMounts parseMountinfo(std::string_view mountinfo, std::string_view controllers_of_v2);
// Reads /proc/self/mountinfo and the v2 root's cgroup.controllers.
Result<CgroupMounts> detectCgroupMounts();

}  // namespace colo
