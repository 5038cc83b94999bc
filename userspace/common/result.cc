#include "common/result.h"

#include <cstring>

namespace colo {

Error Error::fromErrno(int code, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(code);
  return Error(code, std::move(msg));
}

Error Error::wrap(std::string_view context) const {
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Error(code_, std::move(msg));
}

}  // namespace colo
