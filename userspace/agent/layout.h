// Kubelet cgroup layouts: which cgroup is a pod, which is a container, and of which QoS class.
//
// Both cgroup drivers, both cgroup versions (the layout is the same on v1 and v2):
//   cgroupfs: <root>/[burstable|besteffort/]pod<uid>/<container-id>
//             (the container directory may also be "crio-<id>", "docker-<id>" or
//             "cri-containerd-<id>")
//   systemd:  <root>/[kubepods-<qos>.slice/]kubepods-[<qos>-]pod<uid_with_underscores>.slice/
//             {cri-containerd,crio,docker}-<id>.scope
// where <root> is the kubelet cgroup root ("/kubepods" or "/kubepods.slice"). Guaranteed pods sit
// directly under the root. These are pure functions: coloctl uses them too.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace colo::agent {

enum class QosClass { kNone, kGuaranteed, kBurstable, kBestEffort };
enum class Runtime { kUnknown, kContainerd, kCrio, kDocker };

struct KubeCgroup {
  enum class Level { kPod, kContainer };
  Level level = Level::kContainer;
  std::string pod_uid;       // with '-' separators, as the API server spells it
  std::string container_id;  // runtime id (hex); "" for a pod-level cgroup
  QosClass qos = QosClass::kNone;
  Runtime runtime = Runtime::kUnknown;  // kUnknown for cgroupfs ids without a prefix
  bool operator==(const KubeCgroup&) const = default;
};

// Classifies `below_root`, a cgroup path relative to the kubelet root ("burstable/pod<uid>/<id>",
// leading '/' optional). nullopt for anything that is not a pod or container cgroup (QoS-class
// directories, conmon scopes, junk).
std::optional<KubeCgroup> classifyBelowRoot(std::string_view below_root);

// Classifies `path`, a cgroup path relative to the hierarchy mount ("/kubepods/pod<uid>/<id>").
// With `kubelet_root` ("/kubepods", "/colo-test-1/kubepods.slice"), `path` must lie below it;
// with an empty root, the first "kubepods" or "kubepods.slice" component of `path` is the root.
std::optional<KubeCgroup> classifyCgroupPath(std::string_view path,
                                             std::string_view kubelet_root = {});

const char* qosName(QosClass qos);         // "guaranteed", "burstable", "besteffort", ""
const char* runtimeName(Runtime runtime);  // "containerd", "crio", "docker", ""

}  // namespace colo::agent
