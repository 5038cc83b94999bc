// Result<T>: the error type every colo layer returns. Errors carry an errno (0 when none applies)
// and a context chain ("apply be-cpu: write cpu.max: Permission denied").
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace colo {

class Error {
 public:
  Error() = default;
  Error(int code, std::string message) : code_(code), message_(std::move(message)) {}

  // Error from an errno value with `context` in front of strerror(code).
  static Error fromErrno(int code, std::string_view context);
  // Error without an errno (bad input, parse failures). code is EINVAL.
  static Error invalid(std::string message) { return Error(EINVAL, std::move(message)); }

  int code() const { return code_; }
  const std::string& message() const { return message_; }
  // Returns a copy with "context: " prepended; the errno is kept.
  Error wrap(std::string_view context) const;

 private:
  int code_ = 0;
  std::string message_;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(Error e) { return std::unexpected<Error>(std::move(e)); }
inline std::unexpected<Error> failErrno(int code, std::string_view context) {
  return std::unexpected<Error>(Error::fromErrno(code, context));
}
inline std::unexpected<Error> failInvalid(std::string message) {
  return std::unexpected<Error>(Error::invalid(std::move(message)));
}
inline Status ok() { return {}; }

// libbpf returns -errno or NULL with errno set; convert once, here.
inline Status fromLibbpf(int rc, std::string_view context) {
  if (rc < 0) {
    return failErrno(-rc, context);
  }
  return ok();
}

}  // namespace colo
