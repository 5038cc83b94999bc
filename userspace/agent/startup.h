// colod's start-up checks. Each error says what is wrong and how to fix it.
#pragma once

#include <string>

#include "common/result.h"

namespace colo::agent {

// EPERM unless the process holds CAP_SYS_ADMIN, CAP_BPF and CAP_PERFMON (root has them).
Status checkPrivileges();
// ENOENT unless kernel BTF is at `path` (needed for CO-RE and tp_btf programs).
Status checkBtf(const std::string& path = "/sys/kernel/btf/vmlinux");

}  // namespace colo::agent
