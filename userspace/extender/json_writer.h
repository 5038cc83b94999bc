// JsonWriter: appends JSON to a string with no allocation beyond the string's growth. The
// caller produces well-formed structure; strings are escaped (Go-compatible: <, >, & too).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace colo::extender {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}
  void raw(std::string_view s) { out_->append(s); }
  void ch(char c) { out_->push_back(c); }
  void str(std::string_view s);
  // True when str(s) would copy s unchanged between the quotes (no byte needs escaping).
  static bool plain(std::string_view s);
  void num(int64_t v);
  void key(std::string_view k) {
    str(k);
    ch(':');
  }

 private:
  std::string* out_;
};

}  // namespace colo::extender
