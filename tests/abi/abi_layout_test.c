// SPDX-License-Identifier: GPL-2.0
/*
 * Pins every size and field offset of the vbus ABI.  This file is compiled
 * twice, as C (gcc -std=c11) and as C++ (g++ -std=c++20), so the headers are
 * proven usable unchanged from both languages.  A failing assertion is a
 * compile error; the program itself only reports success.
 */
#include <stddef.h>
#include <stdio.h>
#ifndef __cplusplus
#include <linux/virtio_net.h>	/* not C++-clean: checked from C only */
#endif
#include <linux/vbus.h>
#include <linux/vbus_ring.h>
#include <linux/vbus_venet.h>

#ifdef __cplusplus
#define PIN(cond) static_assert(cond, #cond)
#else
#define PIN(cond) _Static_assert(cond, #cond)
#endif

#define SIZE(type, n) PIN(sizeof(struct type) == (n))
#define AT(type, field, n) PIN(offsetof(struct type, field) == (n))

/* vbus_ring.h */
SIZE(vbus_shm_signal, 64);
AT(vbus_shm_signal, enabled, 0);
AT(vbus_shm_signal, pending, 4);
AT(vbus_shm_signal, dirty, 8);
AT(vbus_shm_signal, reserved, 12);
AT(vbus_shm_signal, pad, 16);

SIZE(vbus_ring_desc, 16);
AT(vbus_ring_desc, seq, 0);
AT(vbus_ring_desc, flags, 4);
AT(vbus_ring_desc, reserved, 6);
AT(vbus_ring_desc, offset, 8);
AT(vbus_ring_desc, len, 12);

SIZE(vbus_ring_used, 16);
AT(vbus_ring_used, seq, 0);
AT(vbus_ring_used, flags, 4);
AT(vbus_ring_used, reserved, 6);
AT(vbus_ring_used, len, 8);
AT(vbus_ring_used, reserved2, 12);

SIZE(vbus_queue_desc, 64);
AT(vbus_queue_desc, num_entries, 0);
AT(vbus_queue_desc, buf_size, 4);
AT(vbus_queue_desc, submit_offset, 8);
AT(vbus_queue_desc, used_offset, 12);
AT(vbus_queue_desc, to_host_offset, 16);
AT(vbus_queue_desc, to_guest_offset, 20);
AT(vbus_queue_desc, pool_offset, 24);
AT(vbus_queue_desc, pool_size, 28);
AT(vbus_queue_desc, reserved, 32);

/* vbus.h */
SIZE(vbus_bridge_header, 192);
AT(vbus_bridge_header, magic, 0);
AT(vbus_bridge_header, abi_major, 8);
AT(vbus_bridge_header, abi_minor, 10);
AT(vbus_bridge_header, header_size, 12);
AT(vbus_bridge_header, region_size, 16);
AT(vbus_bridge_header, host_features, 24);
AT(vbus_bridge_header, host_peer_id, 32);
AT(vbus_bridge_header, num_vectors, 36);
AT(vbus_bridge_header, devtab_offset, 40);
AT(vbus_bridge_header, devtab_slots, 44);
AT(vbus_bridge_header, evq_offset, 48);
AT(vbus_bridge_header, evq_entries, 52);
AT(vbus_bridge_header, call_offset, 56);
AT(vbus_bridge_header, call_slots, 60);
AT(vbus_bridge_header, host_state, 64);
AT(vbus_bridge_header, host_epoch, 68);
AT(vbus_bridge_header, features, 72);
AT(vbus_bridge_header, devtab_generation, 80);
AT(vbus_bridge_header, reserved1, 84);
AT(vbus_bridge_header, guest_state, 128);
AT(vbus_bridge_header, guest_epoch, 132);
AT(vbus_bridge_header, guest_features, 136);
AT(vbus_bridge_header, reserved2, 144);

SIZE(vbus_dev_desc, 64);
AT(vbus_dev_desc, id, 0);
AT(vbus_dev_desc, type, 4);
AT(vbus_dev_desc, abi_version, 8);
AT(vbus_dev_desc, state, 12);
AT(vbus_dev_desc, area_offset, 16);
AT(vbus_dev_desc, area_size, 24);
AT(vbus_dev_desc, config_offset, 32);
AT(vbus_dev_desc, config_size, 36);
AT(vbus_dev_desc, queues_offset, 40);
AT(vbus_dev_desc, num_queues, 44);
AT(vbus_dev_desc, doorbell_vector, 48);
AT(vbus_dev_desc, reserved, 52);

SIZE(vbus_event, 16);
AT(vbus_event, seq, 0);
AT(vbus_event, type, 4);
AT(vbus_event, reserved, 6);
AT(vbus_event, dev_id, 8);
AT(vbus_event, data, 12);

SIZE(vbus_evq_header, 192);
AT(vbus_evq_header, overflows, 0);
AT(vbus_evq_header, reserved1, 4);
AT(vbus_evq_header, consumed, 64);
AT(vbus_evq_header, reserved2, 68);
AT(vbus_evq_header, signal, 128);

SIZE(vbus_call_slot, 128);
AT(vbus_call_slot, req_seq, 0);
AT(vbus_call_slot, op, 4);
AT(vbus_call_slot, dev_id, 8);
AT(vbus_call_slot, req_len, 12);
AT(vbus_call_slot, req_data, 16);
AT(vbus_call_slot, resp_seq, 64);
AT(vbus_call_slot, status, 68);
AT(vbus_call_slot, resp_len, 72);
AT(vbus_call_slot, reserved, 76);
AT(vbus_call_slot, resp_data, 80);

/* vbus_venet.h */
SIZE(vbus_venet_config, 64);
AT(vbus_venet_config, mac, 0);
AT(vbus_venet_config, mtu, 6);
AT(vbus_venet_config, max_queue_pairs, 8);
AT(vbus_venet_config, link, 10);
AT(vbus_venet_config, reserved1, 12);
AT(vbus_venet_config, host_features, 16);
AT(vbus_venet_config, features, 24);
AT(vbus_venet_config, reserved2, 32);

/* The packet header is the tap's IFF_VNET_HDR header, byte for byte. */
SIZE(vbus_venet_hdr, 12);
AT(vbus_venet_hdr, flags, 0);
AT(vbus_venet_hdr, gso_type, 1);
AT(vbus_venet_hdr, hdr_len, 2);
AT(vbus_venet_hdr, gso_size, 4);
AT(vbus_venet_hdr, csum_start, 6);
AT(vbus_venet_hdr, csum_offset, 8);
AT(vbus_venet_hdr, num_buffers, 10);
#ifndef __cplusplus
PIN(sizeof(struct vbus_venet_hdr) == sizeof(struct virtio_net_hdr_mrg_rxbuf));
AT(vbus_venet_hdr, flags, offsetof(struct virtio_net_hdr, flags));
AT(vbus_venet_hdr, gso_type, offsetof(struct virtio_net_hdr, gso_type));
AT(vbus_venet_hdr, hdr_len, offsetof(struct virtio_net_hdr, hdr_len));
AT(vbus_venet_hdr, gso_size, offsetof(struct virtio_net_hdr, gso_size));
AT(vbus_venet_hdr, csum_start, offsetof(struct virtio_net_hdr, csum_start));
AT(vbus_venet_hdr, csum_offset, offsetof(struct virtio_net_hdr, csum_offset));
AT(vbus_venet_hdr, num_buffers,
   offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers));
PIN(VENET_HDR_F_NEEDS_CSUM == VIRTIO_NET_HDR_F_NEEDS_CSUM);
PIN(VENET_HDR_F_DATA_VALID == VIRTIO_NET_HDR_F_DATA_VALID);
PIN(VENET_HDR_GSO_NONE == VIRTIO_NET_HDR_GSO_NONE);
PIN(VENET_HDR_GSO_TCPV4 == VIRTIO_NET_HDR_GSO_TCPV4);
PIN(VENET_HDR_GSO_UDP == VIRTIO_NET_HDR_GSO_UDP);
PIN(VENET_HDR_GSO_TCPV6 == VIRTIO_NET_HDR_GSO_TCPV6);
PIN(VENET_HDR_GSO_ECN == VIRTIO_NET_HDR_GSO_ECN);
#endif

/* Constants other code relies on */
PIN(VBUS_MAGIC == 0x535542562d4d5641ULL);
PIN(VBUS_CALL_DATA_SIZE == 48);

int main(void)
{
	printf("vbus ABI %d.%d layout pinned (%s)\n", VBUS_ABI_MAJOR,
	       VBUS_ABI_MINOR,
#ifdef __cplusplus
	       "C++"
#else
	       "C"
#endif
	);
	return 0;
}
