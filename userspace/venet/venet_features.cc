// SPDX-License-Identifier: GPL-2.0
#include "venet/venet_features.h"

#include <linux/if_tun.h>

namespace avm {

uint64_t venet_grant(uint64_t wanted, uint64_t offered, uint32_t rx_buf_size) {
  uint64_t f = wanted & offered & kVenetAllFeatures;
  if ((f & VENET_F_CSUM) == 0) {
    f &= ~(VENET_F_HOST_TSO4 | VENET_F_HOST_TSO6);
  }
  if ((f & (VENET_F_HOST_TSO4 | VENET_F_HOST_TSO6)) == 0) {
    f &= ~VENET_F_HOST_ECN;
  }
  const bool big_rx = (f & VENET_F_MRG_RXBUF) != 0 || rx_buf_size >= kVenetHdrLen + kVenetMaxFrame;
  if ((f & VENET_F_GUEST_CSUM) == 0 || !big_rx) {
    f &= ~(VENET_F_GUEST_TSO4 | VENET_F_GUEST_TSO6);
  }
  if ((f & (VENET_F_GUEST_TSO4 | VENET_F_GUEST_TSO6)) == 0) {
    f &= ~VENET_F_GUEST_ECN;
  }
  return f;
}

unsigned venet_tun_offload(uint64_t features) {
  unsigned t = 0;
  if ((features & VENET_F_GUEST_CSUM) != 0) {
    t |= TUN_F_CSUM;
  }
  if ((features & VENET_F_GUEST_TSO4) != 0) {
    t |= TUN_F_TSO4;
  }
  if ((features & VENET_F_GUEST_TSO6) != 0) {
    t |= TUN_F_TSO6;
  }
  if ((features & VENET_F_GUEST_ECN) != 0) {
    t |= TUN_F_TSO_ECN;
  }
  return t;
}

bool venet_tx_header_ok(const vbus_venet_hdr& h, uint64_t features) {
  if ((h.flags & ~(VENET_HDR_F_NEEDS_CSUM | VENET_HDR_F_DATA_VALID)) != 0) {
    return false;
  }
  if ((h.flags & VENET_HDR_F_NEEDS_CSUM) != 0 && (features & VENET_F_CSUM) == 0) {
    return false;
  }
  if ((h.gso_type & VENET_HDR_GSO_ECN) != 0 && (features & VENET_F_HOST_ECN) == 0) {
    return false;
  }
  switch (h.gso_type & ~VENET_HDR_GSO_ECN) {
    case VENET_HDR_GSO_NONE:
      return (h.gso_type & VENET_HDR_GSO_ECN) == 0;
    case VENET_HDR_GSO_TCPV4:
      return (features & VENET_F_HOST_TSO4) != 0 && h.gso_size != 0;
    case VENET_HDR_GSO_TCPV6:
      return (features & VENET_F_HOST_TSO6) != 0 && h.gso_size != 0;
    default:
      return false;  // UDP fragmentation offload is not offered
  }
}

}  // namespace avm
