// Real cgroups for privileged tests, always under a "colo-test-*" name this test owns, removed
// (with the processes in them killed) when the object goes. Works on cgroup v1 hybrids (one
// directory per controller mount) and on pure v2 (one directory, controllers enabled).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/cgroup_mounts.h"
#include "common/result.h"

namespace colo::test {

class TestCgroupTree {
 public:
  // Creates colo-test-<name>-<pid> at the root of each hierarchy that carries one of
  // `controllers` (v1), or at the v2 root with those controllers enabled for children.
  static Result<TestCgroupTree> create(const std::string& name,
                                       std::vector<std::string> controllers = {"cpu", "cpuacct"});
  TestCgroupTree(TestCgroupTree&&) noexcept;
  TestCgroupTree& operator=(TestCgroupTree&&) = delete;
  ~TestCgroupTree();

  const CgroupMounts& mounts() const { return mounts_; }
  CgroupVersion version() const { return version_; }
  // Name of the top directory, e.g. "colo-test-rqlat-1234".
  const std::string& topName() const { return top_; }
  // Absolute path of `relative` ("" = the top) under `controller`'s hierarchy.
  std::string path(const std::string& controller, const std::string& relative = "") const;
  // Creates `relative` (and its parents) under every hierarchy of the tree.
  Status mkdir(const std::string& relative);
  // Removes `relative` (must hold no processes) from every hierarchy.
  Status rmdir(const std::string& relative);
  // Moves `pid` into `relative` in every hierarchy of the tree.
  Status addPid(const std::string& relative, pid_t pid);
  // Forks, moves the child into `relative`, pins it to `cpu` (-1: no pinning), then execs argv.
  // The child is killed when the tree is destroyed (or by kill()).
  Result<pid_t> spawn(const std::string& relative, const std::vector<std::string>& argv,
                      int cpu = -1);
  void kill(pid_t pid);

 private:
  TestCgroupTree() = default;
  void destroy();

  CgroupMounts mounts_;
  CgroupVersion version_ = CgroupVersion::kV1;
  std::string top_;
  std::vector<std::string> roots_;  // absolute top directories, one per hierarchy
  std::vector<std::string> controllers_;
  std::string v2_enable_;  // "+cpu +memory": what the top enables for its children (v2)
  std::vector<pid_t> children_;
  bool live_ = false;
};

}  // namespace colo::test
