#include "extender/json_writer.h"

#include <charconv>

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

void JsonWriter::str(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out_->push_back('"');
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!kEscape[c]) {
      continue;
    }
    out_->append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"':
        out_->append("\\\"");
        break;
      case '\\':
        out_->append("\\\\");
        break;
      case '\n':
        out_->append("\\n");
        break;
      case '\r':
        out_->append("\\r");
        break;
      case '\t':
        out_->append("\\t");
        break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out_->append(esc, 6);
      }
    }
  }
  out_->append(s.data() + start, s.size() - start);
  out_->push_back('"');
}

void JsonWriter::num(int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out_->append(buf, static_cast<size_t>(p - buf));
}

}  // namespace colo::extender
