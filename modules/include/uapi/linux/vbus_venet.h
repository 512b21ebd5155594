/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AlacrityVM venet: the virtual ethernet device class on vbus.
 *
 * Queues are paired like virtio-net's: queue 2k receives (host -> guest)
 * and queue 2k + 1 transmits (guest -> host) for pair k.  Every packet
 * starts with a struct vbus_venet_hdr in its first buffer; the header has
 * the layout of the tap driver's IFF_VNET_HDR header (virtio_net_hdr with
 * num_buffers), so the host hands it to the tap untouched.
 */
#ifndef _UAPI_LINUX_VBUS_VENET_H
#define _UAPI_LINUX_VBUS_VENET_H

#include <linux/types.h>

#define VBUS_VENET_ABI_VERSION	1

/* Capability bits (config.host_features, negotiated with VENET_CALL_NEGOTIATE) */
#define VENET_F_CSUM		(1ULL << 0)	/* host takes partially checksummed tx */
#define VENET_F_GUEST_CSUM	(1ULL << 1)	/* guest takes partially checksummed rx */
#define VENET_F_HOST_TSO4	(1ULL << 2)	/* host takes TCPv4 GSO tx */
#define VENET_F_HOST_TSO6	(1ULL << 3)	/* host takes TCPv6 GSO tx */
#define VENET_F_GUEST_TSO4	(1ULL << 4)	/* guest takes TCPv4 GSO rx */
#define VENET_F_GUEST_TSO6	(1ULL << 5)	/* guest takes TCPv6 GSO rx */
#define VENET_F_HOST_ECN	(1ULL << 6)	/* host takes TSO with ECN */
#define VENET_F_GUEST_ECN	(1ULL << 7)	/* guest takes TSO with ECN */
#define VENET_F_MRG_RXBUF	(1ULL << 8)	/* rx packets may span buffers */
#define VENET_F_SG		(1ULL << 9)	/* tx packets may span buffers */

/* Largest packet, header excluded (GSO) */
#define VENET_MAX_PACKET	65536

/* config.link */
#define VENET_LINK_UP		0x0001

/*
 * struct vbus_venet_config - the device's config area (host-written).
 * A VBUS_EV_DEV_CONFIG event tells the guest to read it again.
 */
struct vbus_venet_config {
	__u8 mac[6];		/* station address */
	__le16 mtu;		/* largest frame payload, 68..65535 */
	__le16 max_queue_pairs;	/* rx/tx queue pairs in the device area */
	__le16 link;		/* VENET_LINK_* */
	__le32 reserved1;	/* zero */
	__le64 host_features;	/* VENET_F_* the host offers */
	__le64 features;	/* VENET_F_* negotiated, 0 until negotiation */
	__le32 reserved2[8];	/* zero */
};

/* Class calls on the call channel (struct vbus_call_slot.op) */
#define VENET_CALL_NEGOTIATE	0x100	/* req: __le64 wanted; resp: __le64 got */
#define VENET_CALL_SET_LINK	0x101	/* req: __le16 VENET_LINK_*; guest admin state */

/* struct vbus_venet_hdr.flags, as VIRTIO_NET_HDR_F_* */
#define VENET_HDR_F_NEEDS_CSUM	1	/* csum_start/csum_offset valid */
#define VENET_HDR_F_DATA_VALID	2	/* checksum already verified */

/* struct vbus_venet_hdr.gso_type, as VIRTIO_NET_HDR_GSO_* */
#define VENET_HDR_GSO_NONE	0
#define VENET_HDR_GSO_TCPV4	1
#define VENET_HDR_GSO_UDP	3
#define VENET_HDR_GSO_TCPV6	4
#define VENET_HDR_GSO_ECN	0x80

struct vbus_venet_hdr {
	__u8 flags;		/* VENET_HDR_F_* */
	__u8 gso_type;		/* VENET_HDR_GSO_* */
	__le16 hdr_len;		/* bytes of headers in front of the payload */
	__le16 gso_size;	/* payload bytes per segment */
	__le16 csum_start;	/* where checksumming starts */
	__le16 csum_offset;	/* where to store it, from csum_start */
	__le16 num_buffers;	/* rx buffers this packet spans (MRG_RXBUF) */
};

#endif /* _UAPI_LINUX_VBUS_VENET_H */
