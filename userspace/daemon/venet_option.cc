// SPDX-License-Identifier: GPL-2.0
#include "daemon/venet_option.h"

#include <cctype>
#include <charconv>
#include <set>

#include "daemon/names.h"

namespace avm {
namespace {

// A decimal number in [lo, hi].
Result<uint64_t> parse_number(std::string_view key, std::string_view v, uint64_t lo, uint64_t hi) {
  uint64_t n = 0;
  const auto* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, n);
  if (v.empty() || ec != std::errc() || p != end || n < lo || n > hi) {
    return make_error(EINVAL, "venet " + std::string(key) + "=" + std::string(v) +
                                  ": expected a number in " + std::to_string(lo) + ".." +
                                  std::to_string(hi));
  }
  return n;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

}  // namespace

Result<std::array<uint8_t, 6>> parse_mac(std::string_view text) {
  std::array<uint8_t, 6> mac{};
  const auto bad = [&] {
    return make_error(EINVAL, "invalid MAC address '" + std::string(text) + "'");
  };
  if (text.size() != 17) {
    return bad();
  }
  for (size_t i = 0; i < 6; i++) {
    const int hi = hex_digit(text[i * 3]);
    const int lo = hex_digit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-')) {
      return bad();
    }
    mac[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return mac;
}

Result<VenetOption> parse_venet_option(std::string_view text) {
  VenetOption out;
  std::set<std::string, std::less<>> seen;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return make_error(EINVAL, "venet: expected key=value, got '" + std::string(item) + "'");
    }
    const std::string key(item.substr(0, eq));
    const std::string_view v = item.substr(eq + 1);
    if (!seen.insert(key).second) {
      return make_error(EINVAL, "venet: " + key + " given twice");
    }
    if (key == "tap") {
      if (auto why = ifname_problem(v); !why.empty()) {
        return make_error(EINVAL, "venet tap: not an interface name: " + why);
      }
      out.config.tap_name = v;
    } else if (key == "netns") {
      if (auto why = netns_problem(v); !why.empty()) {
        return make_error(EINVAL, "venet netns: not a namespace name: " + why);
      }
      out.netns = v;
    } else if (key == "mac") {
      auto mac = parse_mac(v);
      if (!mac) {
        return make_error(EINVAL, "venet mac: " + mac.error().message);
      }
      out.config.mac = *mac;
    } else if (key == "mtu") {
      auto n = parse_number(key, v, 68, 65535);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.config.mtu = static_cast<uint16_t>(*n);
    } else if (key == "ring") {
      auto n = parse_number(key, v, 1, 4096);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.config.ring_size = static_cast<uint32_t>(*n);
    } else if (key == "buf") {
      auto n = parse_number(key, v, 1, 1U << 20);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.config.buf_size = static_cast<uint32_t>(*n);
    } else if (key == "rx_coalesce_us") {
      auto n = parse_number(key, v, 0, kVenetMaxRxCoalesceUs);
      if (!n) {
        return tl::unexpected(n.error());
      }
      out.config.rx_coalesce_us = static_cast<uint32_t>(*n);
    } else if (key == "link") {
      if (v != "up" && v != "down") {
        return make_error(EINVAL, "venet link=" + std::string(v) + ": expected up or down");
      }
      out.config.link_up = v == "up";
    } else {
      return make_error(EINVAL, "venet: unknown key '" + key + "'");
    }
  }
  if (out.config.tap_name.empty()) {
    return make_error(EINVAL, "venet: tap=NAME is required");
  }
  if (auto ok = validate(out.config); !ok) {
    return tl::unexpected(ok.error());
  }
  return out;
}

}  // namespace avm
