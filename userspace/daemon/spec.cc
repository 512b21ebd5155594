// SPDX-License-Identifier: GPL-2.0
#include "daemon/spec.h"

#include <fmt/format.h>

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

namespace {

// Adds "KEY: why" to @out if @why says something is wrong.
void add(std::vector<std::string>& out, const char* key, const std::string& why) {
  if (!why.empty()) {
    out.push_back(std::string(key) + ": " + why);
  }
}

}  // namespace

std::vector<std::string> check(const InstanceSpec& s, const DaemonSettings& d) {
  std::vector<std::string> out;
  add(out, "name", name_problem(s.name));
  if (!s.socket.empty()) {  // "" = the default
    add(out, "socket", path_problem(s.socket, kMaxSocketPath));
  }
  if (s.region_size < kMinRegionSize || (s.region_size & (s.region_size - 1)) != 0) {
    add(out, "region_size", "must be a power of two, 1M or more");
  } else if (s.region_size > d.max_region_size) {
    add(out, "region_size", "over max_region_size");
  }
  if (s.vectors < 1 || s.vectors > kMaxVectors) {
    add(out, "vectors", "must be 1..64");
  }
  return out;
}

std::vector<std::string> check(const DeviceSpec& s) {
  constexpr unsigned kMinMtu = 68;
  constexpr unsigned kMaxMtu = 65535;
  std::vector<std::string> out;
  add(out, "name", name_problem(s.name));
  if (s.type != "venet") {
    add(out, "type", "only \"venet\" exists");
  }
  if (s.instance) {
    add(out, "instance", name_problem(*s.instance));
  }
  if (!s.tap.empty()) {  // "" = the default
    if (auto why = ifname_problem(s.tap); !why.empty()) {
      add(out, "tap", "not an interface name: " + why);
    }
  }
  if (s.bridge) {
    if (auto why = ifname_problem(*s.bridge); !why.empty()) {
      add(out, "bridge", "not an interface name: " + why);
    }
  }
  if (s.netns) {
    if (auto why = netns_problem(*s.netns); !why.empty()) {
      add(out, "netns", "not a namespace name: " + why);
    }
  }
  if (s.mac && (((*s.mac)[0] & 1U) != 0)) {
    add(out, "mac", "must be a unicast address");
  }
  if (s.mtu < kMinMtu || s.mtu > kMaxMtu) {
    add(out, "mtu", "must be 68..65535");
  }
  if (s.queues != 1) {
    add(out, "queues", "only 1 queue pair is supported");
  }
  if (!parse_venet_backend(s.backend)) {
    add(out, "backend", "must be \"user\", \"kernel\" or \"auto\"");
  }
  return out;
}

std::string instance_socket(const InstanceSpec& s, const std::string& run_dir) {
  return s.socket.empty() ? run_dir + "/" + s.name + ".sock" : s.socket;
}

std::string device_tap(const DeviceSpec& s) {
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
