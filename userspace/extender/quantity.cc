#include "extender/quantity.h"

#include <charconv>
#include <cmath>

namespace colo::extender {

std::optional<int64_t> parseQuantity(std::string_view text, int64_t scale) {
  if (text.empty()) {
    return std::nullopt;
  }
  // Split number and suffix.
  size_t i = 0;
  if (text[i] == '+' || text[i] == '-') {
    ++i;
  }
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) {
    ++i;
  }
  std::string_view number = text.substr(0, i);
  std::string_view suffix = text.substr(i);
  if (number.empty() || number == "+" || number == "-" || number == ".") {
    return std::nullopt;
  }
  double value = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || p != number.data() + number.size()) {
    return std::nullopt;
  }
  double mult = 1;
  if (suffix.empty()) {
  } else if (suffix == "m") {
    mult = 1e-3;
  } else if (suffix == "k") {
    mult = 1e3;
  } else if (suffix == "M") {
    mult = 1e6;
  } else if (suffix == "G") {
    mult = 1e9;
  } else if (suffix == "T") {
    mult = 1e12;
  } else if (suffix == "P") {
    mult = 1e15;
  } else if (suffix == "E") {
    mult = 1e18;
  } else if (suffix == "Ki") {
    mult = 1024.0;
  } else if (suffix == "Mi") {
    mult = 1024.0 * 1024;
  } else if (suffix == "Gi") {
    mult = 1024.0 * 1024 * 1024;
  } else if (suffix == "Ti") {
    mult = 1024.0 * 1024 * 1024 * 1024;
  } else if (suffix == "Pi") {
    mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
  } else if (suffix == "Ei") {
    mult = 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024;
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    int exp = 0;
    auto [q, ec2] = std::from_chars(suffix.data() + 1, suffix.data() + suffix.size(), exp);
    if (ec2 != std::errc() || q != suffix.data() + suffix.size() || exp > 30 || exp < -30) {
      return std::nullopt;
    }
    mult = std::pow(10.0, exp);
  } else {
    return std::nullopt;
  }
  double scaled = value * mult * static_cast<double>(scale);
  if (!std::isfinite(scaled) || std::fabs(scaled) > 9.0e18) {
    return std::nullopt;
  }
  // Round up with a little slack for binary floating point ("0.1" * 1000 = 100.00000000000001).
  double r = std::ceil(scaled - 1e-6);
  return static_cast<int64_t>(r);
}

}  // namespace colo::extender
