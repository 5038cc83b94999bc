#include "cli/match.h"

#include <gtest/gtest.h>

namespace colo::cli {
namespace {

std::vector<MatchCandidate> sample() {
  return {
      {"aaa111", "podu1/aaa111", "u1", "aaa111", "/kubepods/burstable/podu1/aaa111", 101},
      {"aaa222", "podu1/aaa222", "u1", "aaa222", "/kubepods/burstable/podu1/aaa222", 102},
      {"bbb333", "podu2/bbb333", "u2", "bbb333", "/kubepods/besteffort/podu2/bbb333", 103},
      {"/kubepods/besteffort/podu2", "podu2", "u2", "", "/kubepods/besteffort/podu2", 104},
      {"/system.slice/nginx.service", "/system.slice/nginx.service", "", "",
       "/system.slice/nginx.service", 105},
  };
}

TEST(Match, ExactIdNamePathAndCgroupId) {
  auto c = sample();
  EXPECT_EQ(*matchContainer("aaa222", c), 1u);
  EXPECT_EQ(*matchContainer("podu2/bbb333", c), 2u);
  EXPECT_EQ(*matchContainer("/kubepods/burstable/podu1/aaa111", c), 0u);
  EXPECT_EQ(*matchContainer("kubepods/burstable/podu1/aaa111/", c), 0u);
  EXPECT_EQ(*matchContainer("105", c), 4u);
  EXPECT_EQ(*matchContainer("/system.slice/nginx.service", c), 4u);
}

TEST(Match, UniqueIdPrefix) {
  auto c = sample();
  EXPECT_EQ(*matchContainer("bbb", c), 2u);
  EXPECT_EQ(*matchContainer("aaa1", c), 0u);
}

TEST(Match, PodUidPicksThePodCgroup) {
  auto c = sample();
  EXPECT_EQ(*matchContainer("u2", c), 3u);
  EXPECT_EQ(*matchContainer("podu2", c), 3u);
}

TEST(Match, AmbiguousListsTheCandidates) {
  auto c = sample();
  auto r = matchContainer("aaa", c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), EINVAL);
  EXPECT_NE(r.error().message().find("matches 2 containers"), std::string::npos);
  EXPECT_NE(r.error().message().find("podu1/aaa111"), std::string::npos);
  EXPECT_NE(r.error().message().find("podu1/aaa222"), std::string::npos);
  // A pod without a pod-level cgroup among the candidates is ambiguous too.
  EXPECT_FALSE(matchContainer("u1", c));
}

TEST(Match, NothingMatches) {
  auto r = matchContainer("zzz", sample());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no container matches \"zzz\""), std::string::npos);
  EXPECT_FALSE(matchContainer("", sample()));
}

}  // namespace
}  // namespace colo::cli
