// SPDX-License-Identifier: GPL-2.0
// What alacrityvmd is asked to run: the [daemon] and [metrics] settings,
// instance and device specs (docs/control-api.md, "Configuration file"),
// their defaults and validation.  Their keys, types, ranges and help are
// in one table per object (spec_fields.h), which the config file, the
// JSON-RPC methods, state.json, --venet and avmctl all read.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/mac.h"
#include "daemon/names.h"
#include "venet/venet_config.h"

namespace avm {

enum class Origin { kConfig, kApi, kLegacy };
const char* to_string(Origin o);

struct DaemonSettings {
  std::string control_socket = "/run/alacrityvm/control.sock";
  std::string control_group = "alacrityvm";
  std::string socket_group = "alacrityvm";
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
  std::optional<std::string> instance;  // attached to
  std::string tap;                      // "" = avm-<name>, cut to 15
  std::optional<std::string> bridge;    // Linux bridge to enslave the TAP to
  std::optional<std::string> netns;     // create the TAP in /run/netns/<netns>
  std::optional<MacAddress> mac;        // unset = derived from the name
  unsigned mtu = 1500;
  unsigned queues = 1;
  std::string backend = "auto";  // user | kernel | auto (VenetBackend)
  bool link_up = true;
  // Tuning (VenetConfig's fields of the same names).
  uint32_t ring_size = kVenetDefaultRingSize;
  uint32_t buf_size = kVenetDefaultBufSize;
  uint32_t rx_coalesce_us = kVenetDefaultRxCoalesceUs;
  uint32_t busy_poll_max_us = kVenetDefaultBusyPollMaxUs;
  Origin origin = Origin::kApi;
  bool operator==(const DeviceSpec&) const = default;
};

constexpr unsigned kMaxVectors = 64;
constexpr uint64_t kMinRegionSize = uint64_t{1} << 20;

// Each returns every problem as "KEY: why" (names.h's rules for the
// strings), none if the spec is fine.
std::vector<std::string> check(const InstanceSpec& s, const DaemonSettings& d);
std::vector<std::string> check(const DeviceSpec& s);

// Defaults filled in: socket path, tap name, MAC.
std::string instance_socket(const InstanceSpec& s, const std::string& run_dir);
std::string device_tap(const DeviceSpec& s);
MacAddress device_mac(const DeviceSpec& s);
// What the device is created with (its backend "user" if @s names none
// that parses; the caller decides what "auto" becomes).
VenetConfig to_venet_config(const DeviceSpec& s);

}  // namespace avm
