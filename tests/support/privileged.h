// Privileged tests check what they need and skip with the reason; under CI
// (COLO_REQUIRE_PRIVILEGED_TESTS=1) a skip is a failure.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace colo::test {

inline bool privilegedRequired() {
  const char* v = std::getenv("COLO_REQUIRE_PRIVILEGED_TESTS");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

}  // namespace colo::test

// Skips the test with `reason`, or fails it when privileged tests are required.
#define COLO_SKIP_OR_FAIL(reason)                                    \
  do {                                                               \
    if (::colo::test::privilegedRequired()) {                        \
      FAIL() << "required privileged test cannot run: " << (reason); \
    } else {                                                         \
      GTEST_SKIP() << (reason);                                      \
    }                                                                \
  } while (0)

#define COLO_REQUIRE_ROOT()                                   \
  do {                                                        \
    if (::geteuid() != 0) {                                   \
      COLO_SKIP_OR_FAIL("needs root (real BPF and cgroups)"); \
    }                                                         \
  } while (0)
