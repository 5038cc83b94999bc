#include "common/result.h"

#include <gtest/gtest.h>

namespace colo {
namespace {

Result<int> parsePositive(int v) {
  if (v <= 0) {
    return failInvalid("value must be positive, got " + std::to_string(v));
  }
  return v;
}

TEST(Result, ContextChains) {
  Error e = Error::fromErrno(EACCES, "write cpu.max").wrap("apply be-cpu");
  EXPECT_EQ(e.code(), EACCES);
  EXPECT_EQ(e.message(), "apply be-cpu: write cpu.max: Permission denied");
}

TEST(Result, ValueAndError) {
  EXPECT_EQ(*parsePositive(3), 3);
  auto r = parsePositive(-1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), EINVAL);
  EXPECT_NE(r.error().message().find("-1"), std::string::npos);
}

TEST(Result, LibbpfErrnoConversion) {
  auto st = fromLibbpf(-EPERM, "load sched");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), EPERM);
  EXPECT_TRUE(fromLibbpf(0, "x"));
}

}  // namespace
}  // namespace colo
