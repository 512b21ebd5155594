// SPDX-License-Identifier: GPL-2.0
#include "daemon/spec.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace avm {

const char* to_string(Origin o) {
  switch (o) {
    case Origin::kConfig:
      return "config";
    case Origin::kApi:
      return "api";
    case Origin::kLegacy:
      return "command-line";
  }
  return "api";
}

bool valid_name(std::string_view name) {
  constexpr size_t kMaxName = 32;
  if (name.empty() || name.size() > kMaxName) {
    return false;
  }
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(name[0])) {
    return false;
  }
  for (char c : name) {
    if (!lower_or_digit(c) && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::optional<uint64_t> parse_bytes(std::string_view text) {
  uint64_t n = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc{} || p == text.data()) {
    return std::nullopt;
  }
  std::string_view unit(p, static_cast<size_t>(end - p));
  unsigned shift = 0;
  if (unit.empty()) {
    shift = 0;
  } else if (unit == "K" || unit == "k") {
    shift = 10;
  } else if (unit == "M") {
    shift = 20;
  } else if (unit == "G") {
    shift = 30;
  } else {
    return std::nullopt;
  }
  if (shift != 0 && n > (~uint64_t{0} >> shift)) {
    return std::nullopt;
  }
  return n << shift;
}

std::string format_mac(const std::array<uint8_t, 6>& m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                     m[5]);
}

std::string check(const InstanceSpec& s, const DaemonSettings& d) {
  if (!valid_name(s.name)) {
    return "name: must match [a-z0-9][a-z0-9_-]{0,31}";
  }
  constexpr size_t kMaxSunPath = 107;
  if (s.socket.size() > kMaxSunPath) {
    return "socket: longer than 107 bytes";
  }
  if (!s.socket.empty() && s.socket[0] != '/') {
    return "socket: must be an absolute path";
  }
  if (s.region_size < kMinRegionSize || (s.region_size & (s.region_size - 1)) != 0) {
    return "region_size: must be a power of two, 1M or more";
  }
  if (s.region_size > d.max_region_size) {
    return "region_size: over max_region_size";
  }
  if (s.vectors < 1 || s.vectors > kMaxVectors) {
    return "vectors: must be 1..64";
  }
  return "";
}

std::string check(const DeviceSpec& s) {
  constexpr size_t kMaxIfName = 15;
  constexpr unsigned kMinMtu = 68;
  constexpr unsigned kMaxMtu = 65535;
  if (!valid_name(s.name)) {
    return "name: must match [a-z0-9][a-z0-9_-]{0,31}";
  }
  if (s.type != "venet") {
    return "type: only \"venet\" exists";
  }
  if (s.instance && !valid_name(*s.instance)) {
    return "instance: not an instance name";
  }
  auto ifname_ok = [](const std::string& n) {
    if (n.empty() || n.size() > kMaxIfName || n == "." || n == "..") {
      return false;
    }
    for (char c : n) {
      if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) != 0 || c < 33 ||
          c > 126) {
        return false;
      }
    }
    return true;
  };
  if (!s.tap.empty() && !ifname_ok(s.tap)) {
    return "tap: not an interface name (1..15 printable characters, no '/', ':')";
  }
  if (s.bridge && !ifname_ok(*s.bridge)) {
    return "bridge: not an interface name";
  }
  if (s.netns && (s.netns->empty() || s.netns->find('/') != std::string::npos || *s.netns == "." ||
                  *s.netns == "..")) {
    return "netns: not a namespace name";
  }
  if (s.mac && (((*s.mac)[0] & 1U) != 0)) {
    return "mac: must be a unicast address";
  }
  if (s.mtu < kMinMtu || s.mtu > kMaxMtu) {
    return "mtu: must be 68..65535";
  }
  if (s.queues != 1) {
    return "queues: only 1 queue pair is supported";
  }
  if (!parse_venet_backend(s.backend)) {
    return "backend: must be \"user\", \"kernel\" or \"auto\"";
  }
  return "";
}

std::string instance_socket(const InstanceSpec& s, const std::string& run_dir) {
  return s.socket.empty() ? run_dir + "/" + s.name + ".sock" : s.socket;
}

std::string device_tap(const DeviceSpec& s) {
  constexpr size_t kMaxIfName = 15;
  return s.tap.empty() ? ("avm-" + s.name).substr(0, kMaxIfName) : s.tap;
}

std::array<uint8_t, 6> device_mac(const DeviceSpec& s) {
  if (s.mac) {
    return *s.mac;
  }
  // FNV-1a of the name: stable across restarts and hosts.
  constexpr uint32_t kOffset = 2166136261U;
  constexpr uint32_t kPrime = 16777619U;
  uint32_t h = kOffset;
  for (char c : s.name) {
    h = (h ^ static_cast<uint8_t>(c)) * kPrime;
  }
  return {0x52,
          0x54,
          0x00,
          static_cast<uint8_t>(h >> 16),
          static_cast<uint8_t>(h >> 8),
          static_cast<uint8_t>(h)};
}

}  // namespace avm
