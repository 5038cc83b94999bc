#include "agent/layout.h"

#include <vector>

namespace colo::agent {
namespace {

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    if (end > pos) {
      out.push_back(path.substr(pos, end - pos));
    }
    pos = end + 1;
  }
  return out;
}

bool isHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool allHex(std::string_view s) {
  for (char c : s) {
    if (!isHex(c)) {
      return false;
    }
  }
  return true;
}

// A pod uid is a UUID (8-4-4-4-12 hex with `sep`) or, for static pods, a 32-hex config hash.
// Returns the uid with '-' separators, or "" when `text` is not one.
std::string parsePodUid(std::string_view text, char sep) {
  if (text.size() == 32 && allHex(text)) {
    return std::string(text);
  }
  if (text.size() != 36) {
    return {};
  }
  std::string out(text);
  for (size_t i = 0; i < out.size(); ++i) {
    bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_pos) {
      if (out[i] != sep) {
        return {};
      }
      out[i] = '-';
    } else if (!isHex(out[i])) {
      return {};
    }
  }
  return out;
}

// Container ids are 64 hex digits from every runtime; accept any reasonably long hex id so test
// trees and future runtimes with shorter ids still classify, while names like "foo" do not.
bool validContainerId(std::string_view id) {
  return id.size() >= 12 && id.size() <= 64 && allHex(id);
}

struct RuntimePrefix {
  std::string_view prefix;
  Runtime runtime;
};
constexpr RuntimePrefix kPrefixes[] = {
    {"cri-containerd-", Runtime::kContainerd},
    {"crio-", Runtime::kCrio},
    {"docker-", Runtime::kDocker},
};

// "<prefix><id>[.scope]" or (cgroupfs only) a bare id. Fills id/runtime; false for conmon scopes
// and anything else.
bool parseContainerDir(std::string_view name, bool systemd, std::string* id, Runtime* runtime) {
  constexpr std::string_view kScope = ".scope";
  bool has_scope = name.size() > kScope.size() && name.ends_with(kScope);
  if (systemd && !has_scope) {
    return false;
  }
  if (has_scope) {
    name.remove_suffix(kScope.size());
  }
  for (const auto& p : kPrefixes) {
    if (name.starts_with(p.prefix)) {
      std::string_view rest = name.substr(p.prefix.size());
      if (!validContainerId(rest)) {
        return false;  // "crio-conmon-<id>" lands here: conmon is not a container
      }
      *id = std::string(rest);
      *runtime = p.runtime;
      return true;
    }
  }
  if (systemd || has_scope || !validContainerId(name)) {
    return false;
  }
  *id = std::string(name);
  *runtime = Runtime::kUnknown;
  return true;
}

std::optional<KubeCgroup> finish(const std::vector<std::string_view>& comps, size_t pod_index,
                                 std::string pod_uid, QosClass qos, bool systemd) {
  KubeCgroup out;
  out.pod_uid = std::move(pod_uid);
  out.qos = qos;
  if (comps.size() == pod_index + 1) {
    out.level = KubeCgroup::Level::kPod;
    return out;
  }
  if (comps.size() != pod_index + 2) {
    return std::nullopt;
  }
  if (!parseContainerDir(comps[pod_index + 1], systemd, &out.container_id, &out.runtime)) {
    return std::nullopt;
  }
  out.level = KubeCgroup::Level::kContainer;
  return out;
}

std::optional<KubeCgroup> classifyCgroupfs(const std::vector<std::string_view>& comps) {
  size_t idx = 0;
  QosClass qos = QosClass::kGuaranteed;
  if (comps[0] == "burstable") {
    qos = QosClass::kBurstable;
    idx = 1;
  } else if (comps[0] == "besteffort") {
    qos = QosClass::kBestEffort;
    idx = 1;
  }
  if (comps.size() <= idx || !comps[idx].starts_with("pod")) {
    return std::nullopt;
  }
  std::string uid = parsePodUid(comps[idx].substr(3), '-');
  if (uid.empty()) {
    return std::nullopt;
  }
  return finish(comps, idx, std::move(uid), qos, false);
}

std::optional<KubeCgroup> classifySystemd(const std::vector<std::string_view>& comps) {
  size_t idx = 0;
  QosClass qos = QosClass::kGuaranteed;
  std::string_view pod_prefix = "kubepods-pod";
  if (comps[0] == "kubepods-burstable.slice") {
    qos = QosClass::kBurstable;
    idx = 1;
    pod_prefix = "kubepods-burstable-pod";
  } else if (comps[0] == "kubepods-besteffort.slice") {
    qos = QosClass::kBestEffort;
    idx = 1;
    pod_prefix = "kubepods-besteffort-pod";
  }
  if (comps.size() <= idx) {
    return std::nullopt;
  }
  std::string_view pod = comps[idx];
  constexpr std::string_view kSlice = ".slice";
  if (!pod.starts_with(pod_prefix) || !pod.ends_with(kSlice) ||
      pod.size() <= pod_prefix.size() + kSlice.size()) {
    return std::nullopt;
  }
  pod = pod.substr(pod_prefix.size(), pod.size() - pod_prefix.size() - kSlice.size());
  std::string uid = parsePodUid(pod, '_');
  if (uid.empty()) {
    return std::nullopt;
  }
  return finish(comps, idx, std::move(uid), qos, true);
}

std::string normalizeRoot(std::string_view root) {
  std::string out;
  if (!root.starts_with('/')) {
    out += '/';
  }
  out += root;
  while (out.size() > 1 && out.back() == '/') {
    out.pop_back();
  }
  return out;
}

}  // namespace

std::optional<KubeCgroup> classifyBelowRoot(std::string_view below_root) {
  std::vector<std::string_view> comps = splitPath(below_root);
  if (comps.empty()) {
    return std::nullopt;
  }
  // The systemd driver names every level "*.slice"/"*.scope"; cgroupfs never uses ".slice".
  if (comps[0].ends_with(".slice")) {
    return classifySystemd(comps);
  }
  return classifyCgroupfs(comps);
}

std::optional<KubeCgroup> classifyCgroupPath(std::string_view path, std::string_view kubelet_root) {
  std::string full = normalizeRoot(path);
  if (!kubelet_root.empty()) {
    std::string root = normalizeRoot(kubelet_root);
    if (root == "/") {
      return classifyBelowRoot(full);
    }
    if (full.size() <= root.size() + 1 || !full.starts_with(root) || full[root.size()] != '/') {
      return std::nullopt;
    }
    return classifyBelowRoot(std::string_view(full).substr(root.size() + 1));
  }
  std::vector<std::string_view> comps = splitPath(full);
  for (size_t i = 0; i < comps.size(); ++i) {
    if (comps[i] == "kubepods" || comps[i] == "kubepods.slice") {
      std::string rest;
      for (size_t j = i + 1; j < comps.size(); ++j) {
        rest += '/';
        rest += comps[j];
      }
      return classifyBelowRoot(rest);
    }
  }
  return std::nullopt;
}

const char* qosName(QosClass qos) {
  switch (qos) {
    case QosClass::kGuaranteed:
      return "guaranteed";
    case QosClass::kBurstable:
      return "burstable";
    case QosClass::kBestEffort:
      return "besteffort";
    case QosClass::kNone:
      break;
  }
  return "";
}

const char* runtimeName(Runtime runtime) {
  switch (runtime) {
    case Runtime::kContainerd:
      return "containerd";
    case Runtime::kCrio:
      return "crio";
    case Runtime::kDocker:
      return "docker";
    case Runtime::kUnknown:
      break;
  }
  return "";
}

}  // namespace colo::agent
