// SPDX-License-Identifier: GPL-2.0
#include "venet/venet_config.h"

#include <bit>
#include <cstring>

#include "lib/queue_view.h"

namespace avm {

const char* to_string(VenetBackend b) {
  switch (b) {
    case VenetBackend::kUser:
      return "user";
    case VenetBackend::kKernel:
      return "kernel";
    case VenetBackend::kAuto:
      return "auto";
  }
  return "user";
}

std::optional<VenetBackend> parse_venet_backend(std::string_view text) {
  for (VenetBackend b : {VenetBackend::kUser, VenetBackend::kKernel, VenetBackend::kAuto}) {
    if (text == to_string(b)) {
      return b;
    }
  }
  return std::nullopt;
}

Status validate(const VenetConfig& c) {
  if (c.mtu < 68) {
    return make_error(EINVAL, "venet: MTU " + std::to_string(c.mtu) + " is below 68");
  }
  if (c.queue_pairs != 1) {
    return make_error(EINVAL, "venet: only one queue pair is supported");
  }
  if (!std::has_single_bit(c.ring_size) || c.ring_size > QueueView::kMaxEntries) {
    return make_error(EINVAL, "venet: ring size " + std::to_string(c.ring_size) +
                                  " is not a power of two up to 4096");
  }
  if (c.buf_size < 128 || c.buf_size > QueueView::kMaxBufSize) {
    return make_error(EINVAL, "venet: buffer size " + std::to_string(c.buf_size) +
                                  " is not in 128.." + std::to_string(QueueView::kMaxBufSize));
  }
  if (c.rx_coalesce_us > kVenetMaxRxCoalesceUs) {
    return make_error(EINVAL, "venet: receive coalescing of " + std::to_string(c.rx_coalesce_us) +
                                  " us is above " + std::to_string(kVenetMaxRxCoalesceUs));
  }
  if (c.busy_poll_max_us > kVenetMaxBusyPollMaxUs) {
    return make_error(EINVAL, "venet: busy polling of " + std::to_string(c.busy_poll_max_us) +
                                  " us is above " + std::to_string(kVenetMaxBusyPollMaxUs));
  }
  if ((c.mac[0] & 1) != 0) {
    return make_error(EINVAL, "venet: MAC address is multicast");
  }
  return {};
}

vbus_venet_config make_venet_config(const VenetConfig& c) {
  vbus_venet_config v{};
  std::memcpy(v.mac, c.mac.data(), sizeof v.mac);
  v.mtu = c.mtu;
  v.max_queue_pairs = c.queue_pairs;
  v.link = c.link_up ? VENET_LINK_UP : 0;
  v.host_features = c.host_features & kVenetAllFeatures;
  v.features = 0;
  return v;
}

std::vector<uint8_t> to_bytes(const vbus_venet_config& c) {
  std::vector<uint8_t> b(sizeof c);
  std::memcpy(b.data(), &c, sizeof c);
  return b;
}

}  // namespace avm
