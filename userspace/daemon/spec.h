// SPDX-License-Identifier: GPL-2.0
// What alacrityvmd is asked to run: the [daemon] and [metrics] settings,
// instance and device specs (docs/control-api.md, "Configuration file"),
// their defaults and validation.  Shared by the config file, the JSON-RPC
// methods and state.json, so every path checks the same rules.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/names.h"
#include "venet/venet_config.h"

namespace avm {

enum class Origin { kConfig, kApi, kLegacy };
const char* to_string(Origin o);

struct DaemonSettings {
  std::string control_socket = "/run/alacrityvm/control.sock";
  std::string control_group = "alacrityvm";
  std::string state_dir = "/var/lib/alacrityvm";
  std::string log_level = "info";
  unsigned max_instances = 64;
  unsigned max_devices = 256;
  uint64_t max_region_size = uint64_t{1} << 30;
  uint64_t max_request_bytes = 65536;
  unsigned max_connections = 32;
};

struct MetricsSettings {
  bool enabled = false;
  std::string listen = "unix:/run/alacrityvm/metrics.sock";
};

struct InstanceSpec {
  std::string name;
  std::string socket;  // "" = /run/alacrityvm/<name>.sock (see resolve)
  uint64_t region_size = uint64_t{4} << 20;
  unsigned vectors = 4;
  Origin origin = Origin::kApi;
  bool operator==(const InstanceSpec&) const = default;
};

struct DeviceSpec {
  std::string name;
  std::string type = "venet";
  std::optional<std::string> instance;        // attached to
  std::string tap;                            // "" = avm-<name>, cut to 15
  std::optional<std::string> bridge;          // Linux bridge to enslave the TAP to
  std::optional<std::string> netns;           // create the TAP in /run/netns/<netns>
  std::optional<std::array<uint8_t, 6>> mac;  // unset = derived from the name
  unsigned mtu = 1500;
  unsigned queues = 1;
  std::string backend = "auto";  // user | kernel | auto (VenetBackend)
  bool link_up = true;
  // Ring geometry and receive coalescing: only the legacy --venet option
  // sets these; everyone else gets VenetConfig's defaults.
  uint32_t ring_size = kVenetDefaultRingSize;
  uint32_t buf_size = kVenetDefaultBufSize;
  uint32_t rx_coalesce_us = kVenetDefaultRxCoalesceUs;
  Origin origin = Origin::kApi;
  bool operator==(const DeviceSpec&) const = default;
};

constexpr unsigned kMaxVectors = 64;
constexpr uint64_t kMinRegionSize = uint64_t{1} << 20;

// "4M", "1G", "65536" -> bytes; nullopt if malformed.
std::optional<uint64_t> parse_bytes(std::string_view text);
std::string format_mac(const std::array<uint8_t, 6>& mac);

// Each returns every problem as "KEY: why" (names.h's rules for the
// strings), none if the spec is fine.
std::vector<std::string> check(const InstanceSpec& s, const DaemonSettings& d);
std::vector<std::string> check(const DeviceSpec& s);

// Defaults filled in: socket path, tap name, MAC.
std::string instance_socket(const InstanceSpec& s, const std::string& run_dir);
std::string device_tap(const DeviceSpec& s);
std::array<uint8_t, 6> device_mac(const DeviceSpec& s);

}  // namespace avm
