// SPDX-License-Identifier: GPL-2.0
#include "daemon/names.h"

#include <fmt/format.h>

#include <cstdint>

namespace avm {

namespace {

uint8_t byte(std::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]);
}

}  // namespace

size_t printable_char_length(std::string_view s) {
  constexpr uint8_t kDel = 0x7f;
  constexpr uint8_t kC1End = 0xa0;  // U+0080..U+009F, C2 80..C2 9F, are controls
  if (s.empty() || byte(s, 0) < ' ' || byte(s, 0) == kDel) {
    return 0;
  }
  const uint8_t c = byte(s, 0);
  if (c < 0x80) {
    return 1;
  }
  // UTF-8 (RFC 3629): the lead byte gives the length and the range of
  // the second byte (no overlong forms, surrogates or code points past
  // U+10FFFF); every later byte is 80..BF.
  size_t n = 0;
  uint8_t lo = 0x80;
  uint8_t hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    lo = c == 0xc2 ? kC1End : lo;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    lo = c == 0xe0 ? 0xa0 : lo;
    hi = c == 0xed ? 0x9f : hi;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    lo = c == 0xf0 ? 0x90 : lo;
    hi = c == 0xf4 ? 0x8f : hi;
  } else {
    return 0;
  }
  if (s.size() < n || byte(s, 1) < lo || byte(s, 1) > hi) {
    return 0;
  }
  for (size_t i = 2; i < n; i++) {
    if (byte(s, i) < 0x80 || byte(s, i) > 0xbf) {
      return 0;
    }
  }
  return n;
}

std::string text_problem(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = printable_char_length(s.substr(i));
    if (n != 0) {
      i += n;
      continue;
    }
    const uint8_t c = byte(s, i);
    if (c == 0) {
      return fmt::format("contains a NUL byte (at byte {})", i);
    }
    if (c < ' ' || c == 0x7f ||
        (c == 0xc2 && i + 1 < s.size() && byte(s, i + 1) < 0xa0 && byte(s, i + 1) >= 0x80)) {
      return fmt::format("contains a control character (at byte {})", i);
    }
    return fmt::format("is not valid UTF-8 (at byte {})", i);
  }
  return "";
}

std::string name_problem(std::string_view s) {
  constexpr size_t kMaxName = 32;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !s.empty() && s.size() <= kMaxName && lower_or_digit(s[0]);
  for (char c : s) {
    ok = ok && (lower_or_digit(c) || c == '_' || c == '-');
  }
  return ok ? "" : "must match [a-z0-9][a-z0-9_-]{0,31}";
}

bool valid_name(std::string_view s) {
  return name_problem(s).empty();
}

namespace {

// What interface and namespace names share: 1..@max_bytes of printable
// text, neither "." nor "..".
std::string one_name_problem(std::string_view s, size_t max_bytes) {
  if (s.empty()) {
    return "must not be empty";
  }
  if (s.size() > max_bytes) {
    return fmt::format("longer than {} bytes", max_bytes);
  }
  if (auto why = text_problem(s); !why.empty()) {
    return why;
  }
  if (s == "." || s == "..") {
    return "must not be \".\" or \"..\"";
  }
  return "";
}

}  // namespace

std::string ifname_problem(std::string_view s) {
  if (auto why = one_name_problem(s, kMaxIfName); !why.empty()) {
    return why;
  }
  for (char c : s) {
    if (static_cast<uint8_t>(c) >= 0x80) {
      return "must be ASCII";
    }
    if (c == ' ' || c == '/' || c == ':' || c == '%') {
      return fmt::format("must not contain '{}'", c);
    }
  }
  return "";
}

std::string netns_problem(std::string_view s) {
  if (auto why = one_name_problem(s, kMaxNetnsName); !why.empty()) {
    return why;
  }
  if (s.find('/') != std::string_view::npos) {
    return "must not contain '/' (a name in /run/netns)";
  }
  return "";
}

std::string path_problem(std::string_view s, size_t max_bytes) {
  if (s.empty()) {
    return "must not be empty";
  }
  if (auto why = text_problem(s); !why.empty()) {
    return why;
  }
  if (s[0] != '/') {
    return "must be an absolute path";
  }
  if (s.size() > max_bytes) {
    return fmt::format("longer than {} bytes", max_bytes);
  }
  return "";
}

}  // namespace avm
