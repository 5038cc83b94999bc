#include "agent/tiers.h"

#include <gtest/gtest.h>

namespace colo::agent {
namespace {

using bpf::Tier;

constexpr char kBePath[] =
    "/kubepods/besteffort/pod6a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/"
    "3f1c9e2a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e";
constexpr char kBurstablePath[] =
    "/kubepods/burstable/pod6a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/"
    "3f1c9e2a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e";

TEST(TiersTest, GlobsFirstMatchWins) {
  std::vector<TierRule> rules = {
      {"/batch/critical-*", Tier::kLSR},
      {"/batch/*", Tier::kBE},
      {"/system.slice/nginx.service", Tier::kLSX},
  };
  EXPECT_EQ(matchTierRule(rules, "/batch/critical-etl"), Tier::kLSR);
  EXPECT_EQ(matchTierRule(rules, "/batch/etl"), Tier::kBE);
  EXPECT_EQ(matchTierRule(rules, "/system.slice/nginx.service"), Tier::kLSX);
  EXPECT_EQ(matchTierRule(rules, "/system.slice/sshd.service"), std::nullopt);
  // '*' stays within one component: a child of a matched cgroup is not matched by it.
  EXPECT_EQ(matchTierRule(rules, "/batch/etl/worker"), std::nullopt);
  // Order matters: the same rules reversed give the general tier.
  std::vector<TierRule> reversed = {rules[1], rules[0]};
  EXPECT_EQ(matchTierRule(reversed, "/batch/critical-etl"), Tier::kBE);
}

TEST(TiersTest, QosFallback) {
  EXPECT_EQ(resolveTier({}, kBePath, classifyCgroupPath(kBePath)), Tier::kBE);
  EXPECT_EQ(resolveTier({}, kBurstablePath, classifyCgroupPath(kBurstablePath)), Tier::kLS);
  std::string guaranteed =
      "/kubepods/pod6a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/"
      "3f1c9e2a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e";
  EXPECT_EQ(resolveTier({}, guaranteed, classifyCgroupPath(guaranteed)), Tier::kLS);
  // Pod-level cgroups and non-Kubernetes cgroups without a rule are not watched.
  std::string pod = "/kubepods/besteffort/pod6a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";
  EXPECT_EQ(resolveTier({}, pod, classifyCgroupPath(pod)), std::nullopt);
  EXPECT_EQ(resolveTier({}, "/system.slice", std::nullopt), std::nullopt);
}

TEST(TiersTest, RuleBeatsQos) {
  std::vector<TierRule> rules = {{"/kubepods/besteffort/*/*", Tier::kLSR}};
  EXPECT_EQ(resolveTier(rules, kBePath, classifyCgroupPath(kBePath)), Tier::kLSR);
  EXPECT_EQ(resolveTier(rules, kBurstablePath, classifyCgroupPath(kBurstablePath)), Tier::kLS);
}

TEST(TiersTest, Labels) {
  Tier t;
  EXPECT_TRUE(bpf::parseTier("lsx", &t));
  EXPECT_EQ(t, Tier::kLSX);
  EXPECT_TRUE(bpf::parseTier("BE", &t));
  EXPECT_EQ(t, Tier::kBE);
  EXPECT_FALSE(bpf::parseTier("none", &t));
  EXPECT_FALSE(bpf::parseTier("", &t));
  EXPECT_STREQ(bpf::tierName(Tier::kLSR), "LSR");
}

}  // namespace
}  // namespace colo::agent
