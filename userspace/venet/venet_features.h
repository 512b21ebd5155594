// SPDX-License-Identifier: GPL-2.0
// venet feature negotiation and what the features mean for the tap and for
// the headers a guest may send (docs/abi.md "venet").
#pragma once

#include <linux/vbus_venet.h>

#include <cstdint>

namespace avm {

// Every VENET_F_* bit this backend implements.
constexpr uint64_t kVenetAllFeatures =
    VENET_F_CSUM | VENET_F_GUEST_CSUM | VENET_F_HOST_TSO4 | VENET_F_HOST_TSO6 | VENET_F_GUEST_TSO4 |
    VENET_F_GUEST_TSO6 | VENET_F_HOST_ECN | VENET_F_GUEST_ECN | VENET_F_MRG_RXBUF | VENET_F_SG;

// Bytes of the largest frame after the header: VENET_MAX_PACKET plus a
// VLAN ethernet header, as the guest driver computes it.
constexpr uint32_t kVenetMaxFrame = VENET_MAX_PACKET + 18;
constexpr uint32_t kVenetHdrLen = sizeof(vbus_venet_hdr);

// What the host grants: @wanted & @offered, minus combinations that make
// no sense (TSO without checksum offload, ECN without TSO, guest TSO when
// a 64 KiB frame cannot reach the guest: no MRG_RXBUF and rx buffers of
// @rx_buf_size bytes too small).
uint64_t venet_grant(uint64_t wanted, uint64_t offered, uint32_t rx_buf_size);

// TUN_F_* flags for TUNSETOFFLOAD: what the tap may hand us for the guest.
unsigned venet_tun_offload(uint64_t features);

// Whether a transmit header (private copy) is allowed under @features.
bool venet_tx_header_ok(const vbus_venet_hdr& h, uint64_t features);

}  // namespace avm
