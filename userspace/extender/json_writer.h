// JsonWriter: appends JSON to a string with no allocation beyond the string's growth. The
// caller produces well-formed structure; strings are escaped (Go-compatible: <, >, & too).
#pragma once

#include <cstdint>
#include <cstring>
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
  static bool plain(std::string_view s) {
    // A word at a time (node names are 5-63 bytes, checked once per name in every answer);
    // the last word overlaps the ones before it.
    const char* p = s.data();
    const size_t n = s.size();
    uint64_t w;
    if (n >= 8) {
      uint64_t bits = 0;
      for (size_t i = 0; i + 8 < n; i += 8) {
        std::memcpy(&w, p + i, 8);
        bits |= escapeBits(w);
      }
      std::memcpy(&w, p + n - 8, 8);
      return (bits | escapeBits(w)) == 0;
    }
    if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      return escapeBits(uint64_t{a} | uint64_t{b} << 32) == 0;
    }
    w = 0x4141414141414141ull;  // 'A': needs no escape
    std::memcpy(&w, p, n);
    return escapeBits(w) == 0;
  }
  // Writes what str(s) appends at p, which has room for strBound(s) bytes; returns the end.
  static char* writeStr(char* p, std::string_view s);
  static size_t strBound(std::string_view s) { return s.size() * 6 + 2; }
  // Exactly the bytes str(s) appends.
  static size_t strSize(std::string_view s);
  void num(int64_t v);
  void key(std::string_view k) {
    str(k);
    ch(':');
  }

 private:
  // Nonzero when a byte of w needs escaping: below 0x20, '"', '\\', '<', '>' or '&' (bytes >= 0x80
  // never do). Exact per byte: every byte is masked to 7 bits first, so no carry crosses bytes.
  static uint64_t escapeBits(uint64_t w) {
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kLow7 = kOnes * 0x7f;
    constexpr uint64_t kHigh = kOnes * 0x80;
    const uint64_t x = w & kLow7;
    // 0x80 in a byte where x's byte equals c.
    auto eq = [](uint64_t v, uint8_t c) { return ((~(v ^ (kOnes * c)) & kLow7) + kOnes) & kHigh; };
    const uint64_t below_space = ~((x + kOnes * (0x80 - 0x20)) | x) & kHigh;
    // '<' (0x3c) and '>' (0x3e) differ only in bit 1, '"' (0x22) and '&' (0x26) only in bit 2.
    const uint64_t found =
        below_space | eq(x | kOnes * 0x02, 0x3e) | eq(x | kOnes * 0x04, 0x26) | eq(x, '\\');
    return found & ~w & kHigh;
  }

  std::string* out_;
};

}  // namespace colo::extender
