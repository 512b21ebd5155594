// SPDX-License-Identifier: GPL-2.0
// avm::VenetConfig: how a venet device is set up (host side), and the
// struct vbus_venet_config it puts into its config area.
#pragma once

#include <linux/vbus_venet.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/error.h"
#include "venet/venet_features.h"

namespace avm {

// Which backend serves the rings: the I/O thread (user), vbus_host.ko
// (kernel, docs/host-module.md), or the module when it is there and takes
// the device, else the I/O thread (auto).
enum class VenetBackend { kUser, kKernel, kAuto };
const char* to_string(VenetBackend b);
// "user", "kernel", "auto"; nullopt otherwise.
std::optional<VenetBackend> parse_venet_backend(std::string_view text);

// The default pool geometry (see VenetConfig).
constexpr uint32_t kVenetDefaultRingSize = 256;
constexpr uint32_t kVenetDefaultBufSize = 7680;
// The default receive coalescing delay (see VenetConfig) and its bound.
constexpr uint32_t kVenetDefaultRxCoalesceUs = 500;
constexpr uint32_t kVenetMaxRxCoalesceUs = 10000;
// The default bound of busy polling (see VenetConfig) and its own bound.
constexpr uint32_t kVenetDefaultBusyPollMaxUs = 50;
constexpr uint32_t kVenetMaxBusyPollMaxUs = 10000;

struct VenetConfig {
  std::string tap_name;  // tap to create or attach to ("" = kernel picks)
  std::array<uint8_t, 6> mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  uint16_t mtu = 1500;
  uint16_t queue_pairs = 1;  // only 1 for now
  // Pool geometry.  A 64 KiB GSO frame takes 9 buffers of 7.5 KiB, so a
  // ring holds 28 of them; both pools (2 x 1.9 MiB) still fit the legacy
  // default 4 MiB region.  2 KiB buffers (33 per frame, 7 frames a ring)
  // starved the receive ring and doubled the guest's per-frame work.
  uint32_t ring_size = kVenetDefaultRingSize;  // entries per ring, a power of two
  uint32_t buf_size = kVenetDefaultBufSize;    // bytes per pool buffer
  uint64_t host_features = kVenetAllFeatures;
  bool link_up = true;  // host-side carrier at start
  // Busy polling after work, before re-arming the signals (adaptive up to
  // this bound; 0 disables it).
  uint32_t busy_poll_max_us = kVenetDefaultBusyPollMaxUs;
  // Transmit completions between two to_guest notifications (mitigation).
  uint32_t tx_signal_batch = 32;
  // Receive interrupt coalescing while a stream flows towards the guest
  // (adaptive, like ethtool's adaptive-rx): the RX signal of delivered
  // frames waits up to this long for more (0 disables it).  Frames that
  // are not part of a stream are signalled at once.
  uint32_t rx_coalesce_us = kVenetDefaultRxCoalesceUs;
  VenetBackend backend = VenetBackend::kUser;
  // The module's node (tests point it elsewhere).
  std::string kernel_device = "/dev/alacrityvm-host";
};

// EINVAL with the reason if @c cannot work (MTU, queues, sizes, MAC).
Status validate(const VenetConfig& c);

// The config area contents: mac, mtu, pairs, link, host features; the
// negotiated features start at 0.
vbus_venet_config make_venet_config(const VenetConfig& c);
std::vector<uint8_t> to_bytes(const vbus_venet_config& c);

}  // namespace avm
