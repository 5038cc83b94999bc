#include "agent/startup.h"

#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace colo::agent {

Status checkPrivileges() {
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) {
    return failErrno(errno, "capget");
  }
  auto has = [&](int cap) { return (data[cap / 32].effective & (1u << (cap % 32))) != 0; };
  if (has(CAP_SYS_ADMIN) && has(CAP_BPF) && has(CAP_PERFMON)) {
    return ok();
  }
  return failErrno(EPERM,
                   "colod needs root or CAP_BPF+CAP_PERFMON+CAP_SYS_ADMIN (run it as root, or "
                   "grant them: in Kubernetes, securityContext.capabilities.add)");
}

Status checkBtf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return failErrno(ENOENT,
                     "no BTF at " + path + ": this kernel was built without CONFIG_DEBUG_INFO_BTF");
  }
  return ok();
}

}  // namespace colo::agent
