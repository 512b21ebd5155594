// SPDX-License-Identifier: GPL-2.0
#include "daemon/size.h"

#include <cctype>
#include <cerrno>

namespace avm {

Result<uint64_t> parse_size(std::string_view text) {
  const std::string quoted = "invalid size '" + std::string(text) + "'";
  uint64_t value = 0;
  size_t i = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0; i++) {
    const auto digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return make_error(ERANGE, quoted + ": too large");
    }
    value = value * 10 + digit;
  }
  if (i == 0) {
    return make_error(EINVAL, quoted + ": expected a number, e.g. 4M");
  }
  std::string_view suffix = text.substr(i);
  unsigned shift = 0;
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        return make_error(EINVAL, quoted + ": unknown unit (K, M, G, T)");
    }
    suffix.remove_prefix(1);
    if (!suffix.empty() && suffix != "iB" && suffix != "B") {
      return make_error(EINVAL, quoted + ": unknown unit (K, M, G, T)");
    }
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) {
    return make_error(ERANGE, quoted + ": too large");
  }
  return value << shift;
}

std::string format_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t unit = 0;
  while (unit + 1 < std::size(kUnits) && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    unit++;
  }
  return std::to_string(bytes) + " " + kUnits[unit];
}

}  // namespace avm
