#include "extender/json_writer.h"

#include <charconv>
#include <cstring>

namespace colo::extender {
namespace {

struct EscapeTable {
  bool v[256] = {};
  constexpr EscapeTable() {
    for (int c = 0; c < 0x20; ++c) {
      v[c] = true;
    }
    v[static_cast<unsigned char>('"')] = true;
    v[static_cast<unsigned char>('\\')] = true;
    v[static_cast<unsigned char>('<')] = true;
    v[static_cast<unsigned char>('>')] = true;
    v[static_cast<unsigned char>('&')] = true;
  }
  constexpr bool operator[](unsigned char c) const { return v[c]; }
};
constexpr EscapeTable kEscape;

}  // namespace

char* JsonWriter::writeStr(char* p, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  *p++ = '"';
  if (plain(s)) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
    *p++ = '"';
    return p;
  }
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (!kEscape[c]) {
      *p++ = ch;
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"':
        *p++ = '"';
        break;
      case '\\':
        *p++ = '\\';
        break;
      case '\n':
        *p++ = 'n';
        break;
      case '\r':
        *p++ = 'r';
        break;
      case '\t':
        *p++ = 't';
        break;
      default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 15];
    }
  }
  *p++ = '"';
  return p;
}

size_t JsonWriter::strSize(std::string_view s) {
  size_t n = 2;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    n += !kEscape[c] ? 1 : c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' ? 2 : 6;
  }
  return n;
}

void JsonWriter::str(std::string_view s) {
  const size_t old = out_->size();
  // Most strings (node names) need no escaping: copy them whole.
  if (plain(s)) {
    // The size is computed here: libstdc++ 12 hands the operation the grown capacity, not the
    // size asked for, when it reallocates.
    const size_t size = old + s.size() + 2;
    out_->resize_and_overwrite(size, [&](char* base, size_t) {
      base[old] = '"';
      std::memcpy(base + old + 1, s.data(), s.size());
      base[size - 1] = '"';
      return size;
    });
    return;
  }
  // Write in place into room for the worst case (every byte as \u00XX), then trim.
  out_->resize_and_overwrite(old + strBound(s), [&](char* base, size_t) {
    return static_cast<size_t>(writeStr(base + old, s) - base);
  });
}

void JsonWriter::num(int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out_->append(buf, static_cast<size_t>(p - buf));
}

}  // namespace colo::extender
