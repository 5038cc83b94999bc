#include "agent/layout.h"

#include <gtest/gtest.h>

namespace colo::agent {
namespace {

constexpr char kUid[] = "6a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";
constexpr char kUidSd[] = "6a1e2b3c_4d5e_6f70_8192_a3b4c5d6e7f8";
constexpr char kId[] = "3f1c9e2a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e";

std::string s(std::string_view a) { return std::string(a); }

struct Case {
  std::string path;
  QosClass qos;
  Runtime runtime;
};

TEST(LayoutTest, CgroupfsContainersOfEveryQosClass) {
  const Case cases[] = {
      {s("/kubepods/pod") + kUid + "/" + kId, QosClass::kGuaranteed, Runtime::kUnknown},
      {s("/kubepods/burstable/pod") + kUid + "/" + kId, QosClass::kBurstable, Runtime::kUnknown},
      {s("/kubepods/besteffort/pod") + kUid + "/" + kId, QosClass::kBestEffort, Runtime::kUnknown},
      {s("/kubepods/burstable/pod") + kUid + "/crio-" + kId, QosClass::kBurstable, Runtime::kCrio},
      {s("/kubepods/besteffort/pod") + kUid + "/docker-" + kId, QosClass::kBestEffort,
       Runtime::kDocker},
      {s("/kubepods/pod") + kUid + "/cri-containerd-" + kId, QosClass::kGuaranteed,
       Runtime::kContainerd},
  };
  for (const Case& c : cases) {
    auto k = classifyCgroupPath(c.path);
    ASSERT_TRUE(k.has_value()) << c.path;
    EXPECT_EQ(k->level, KubeCgroup::Level::kContainer) << c.path;
    EXPECT_EQ(k->pod_uid, kUid) << c.path;
    EXPECT_EQ(k->container_id, kId) << c.path;
    EXPECT_EQ(k->qos, c.qos) << c.path;
    EXPECT_EQ(k->runtime, c.runtime) << c.path;
  }
}

TEST(LayoutTest, SystemdContainersOfEveryQosClassAndRuntime) {
  const std::pair<std::string, QosClass> pods[] = {
      {s("/kubepods.slice/kubepods-pod") + kUidSd + ".slice", QosClass::kGuaranteed},
      {s("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") + kUidSd + ".slice",
       QosClass::kBurstable},
      {s("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod") + kUidSd + ".slice",
       QosClass::kBestEffort},
  };
  const std::pair<std::string, Runtime> scopes[] = {
      {s("cri-containerd-") + kId + ".scope", Runtime::kContainerd},
      {s("crio-") + kId + ".scope", Runtime::kCrio},
      {s("docker-") + kId + ".scope", Runtime::kDocker},
  };
  for (const auto& [pod, qos] : pods) {
    for (const auto& [scope, runtime] : scopes) {
      std::string path = pod + "/" + scope;
      auto k = classifyCgroupPath(path);
      ASSERT_TRUE(k.has_value()) << path;
      EXPECT_EQ(k->level, KubeCgroup::Level::kContainer);
      EXPECT_EQ(k->pod_uid, kUid) << "systemd '_' must come back as '-'";
      EXPECT_EQ(k->container_id, kId);
      EXPECT_EQ(k->qos, qos) << path;
      EXPECT_EQ(k->runtime, runtime) << path;
    }
  }
}

TEST(LayoutTest, PodLevelDirectoriesAreNotContainers) {
  const std::pair<std::string, QosClass> pods[] = {
      {s("/kubepods/pod") + kUid, QosClass::kGuaranteed},
      {s("/kubepods/burstable/pod") + kUid, QosClass::kBurstable},
      {s("/kubepods/besteffort/pod") + kUid, QosClass::kBestEffort},
      {s("/kubepods.slice/kubepods-pod") + kUidSd + ".slice", QosClass::kGuaranteed},
      {s("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") + kUidSd + ".slice",
       QosClass::kBurstable},
  };
  for (const auto& [path, qos] : pods) {
    auto k = classifyCgroupPath(path);
    ASSERT_TRUE(k.has_value()) << path;
    EXPECT_EQ(k->level, KubeCgroup::Level::kPod) << path;
    EXPECT_EQ(k->pod_uid, kUid);
    EXPECT_EQ(k->container_id, "");
    EXPECT_EQ(k->qos, qos);
  }
}

TEST(LayoutTest, JunkIsRejected) {
  const std::string junk[] = {
      "",
      "/",
      "/kubepods",
      "/kubepods/burstable",
      "/kubepods/besteffort/",
      "/kubepods.slice",
      "/kubepods.slice/kubepods-burstable.slice",
      "/system.slice/containerd.service",
      "/user.slice/user-1000.slice",
      s("/kubepods/burstable/pod") + kUid + "/foo",                // not an id
      s("/kubepods/burstable/pod") + kUid + "/" + kId + "/child",  // too deep
      s("/kubepods/burstable/podnot-a-uid/") + kId,                // bad uid
      s("/kubepods/burstable/") + kUid + "/" + kId,                // no "pod" prefix
      s("/kubepods/guaranteed/pod") + kUid + "/" + kId,            // no such class dir
      s("/kubepods.slice/kubepods-pod") + kUid + ".slice",         // '-' inside a systemd uid
      s("/kubepods.slice/kubepods-pod") + kUidSd + ".slice/crio-conmon-" + kId + ".scope",
      s("/kubepods.slice/kubepods-pod") + kUidSd + ".slice/" + kId,  // systemd needs a scope
      s("/kubepods.slice/kubepods-pod") + kUidSd + ".slice/runc-" + kId + ".scope",
      s("/kubepods.slice/kubepods-burstable.slice/kubepods-pod") + kUidSd + ".slice/crio-" + kId +
          ".scope",                                     // pod name does not match its class slice
      s("/kubepods/pod") + kUid + "/ABCDEF0123456789",  // upper-case hex is not an id
      s("/other/pod") + kUid + "/" + kId,               // not under a kubelet root
  };
  for (const std::string& path : junk) {
    EXPECT_FALSE(classifyCgroupPath(path).has_value()) << path;
  }
}

TEST(LayoutTest, ConfiguredRootAnywhereInTheHierarchy) {
  std::string rel = s("/burstable/pod") + kUid + "/" + kId;
  auto k = classifyCgroupPath("/colo-test-x-1/kubepods" + rel, "/colo-test-x-1/kubepods");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->container_id, kId);
  EXPECT_EQ(k->qos, QosClass::kBurstable);
  // A root given with a trailing slash or without the leading one is the same root.
  EXPECT_TRUE(classifyCgroupPath("/colo-test-x-1/kubepods" + rel, "colo-test-x-1/kubepods/"));
  // Outside the configured root: nothing, even if it looks like a kubelet tree.
  EXPECT_FALSE(classifyCgroupPath("/kubepods" + rel, "/colo-test-x-1/kubepods"));
  EXPECT_FALSE(classifyCgroupPath("/colo-test-x-1/kubepodsX" + rel, "/colo-test-x-1/kubepods"));
  // Without a root, the first kubepods component is the root.
  EXPECT_TRUE(classifyCgroupPath("/colo-test-x-1/kubepods" + rel));
  // A systemd tree below a custom root.
  auto sd = classifyCgroupPath(s("/t/kubepods.slice/kubepods-besteffort.slice/"
                                 "kubepods-besteffort-pod") +
                                   kUidSd + ".slice/crio-" + kId + ".scope",
                               "/t/kubepods.slice");
  ASSERT_TRUE(sd.has_value());
  EXPECT_EQ(sd->qos, QosClass::kBestEffort);
  EXPECT_EQ(sd->runtime, Runtime::kCrio);
}

TEST(LayoutTest, StaticPodConfigHashUids) {
  // Static (mirror) pods have a 32-hex config hash as uid.
  auto k = classifyCgroupPath(s("/kubepods/burstable/pod0123456789abcdef0123456789abcdef/") + kId);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->pod_uid, "0123456789abcdef0123456789abcdef");
}

TEST(LayoutTest, Names) {
  EXPECT_STREQ(qosName(QosClass::kBestEffort), "besteffort");
  EXPECT_STREQ(qosName(QosClass::kNone), "");
  EXPECT_STREQ(runtimeName(Runtime::kCrio), "crio");
  EXPECT_STREQ(runtimeName(Runtime::kUnknown), "");
}

}  // namespace
}  // namespace colo::agent
