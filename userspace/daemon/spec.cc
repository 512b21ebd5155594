// SPDX-License-Identifier: GPL-2.0
#include "daemon/spec.h"

#include <fmt/format.h>

#include <bit>

#include "daemon/spec_fields.h"

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
  add_field_problems(s, instance_fields(), out);
  add(out, "name", name_problem(s.name));
  if (!s.socket.empty()) {  // "" = the default
    add(out, "socket", path_problem(s.socket, kMaxSocketPath));
  }
  if (s.region_size < kMinRegionSize || (s.region_size & (s.region_size - 1)) != 0) {
    add(out, "region_size", "must be a power of two, 1M or more");
  } else if (s.region_size > d.max_region_size) {
    add(out, "region_size", "over max_region_size");
  }
  return out;
}

std::vector<std::string> check(const DeviceSpec& s) {
  std::vector<std::string> out;
  add_field_problems(s, device_fields(), out);
  add(out, "name", name_problem(s.name));
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
  if (!std::has_single_bit(s.ring_size)) {
    add(out, "ring_size", "must be a power of two");
  }
  return out;
}

std::string instance_socket(const InstanceSpec& s, const std::string& run_dir) {
  return s.socket.empty() ? run_dir + "/" + s.name + ".sock" : s.socket;
}

std::string device_tap(const DeviceSpec& s) {
  return s.tap.empty() ? ("avm-" + s.name).substr(0, kMaxIfName) : s.tap;
}

MacAddress device_mac(const DeviceSpec& s) {
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

VenetConfig to_venet_config(const DeviceSpec& s) {
  VenetConfig vc;
  vc.tap_name = device_tap(s);
  vc.mac = device_mac(s);
  vc.mtu = static_cast<uint16_t>(s.mtu);
  vc.queue_pairs = static_cast<uint16_t>(s.queues);
  vc.link_up = s.link_up;
  vc.ring_size = s.ring_size;
  vc.buf_size = s.buf_size;
  vc.rx_coalesce_us = s.rx_coalesce_us;
  vc.busy_poll_max_us = s.busy_poll_max_us;
  vc.backend = parse_venet_backend(s.backend).value_or(VenetBackend::kUser);
  return vc;
}

}  // namespace avm
