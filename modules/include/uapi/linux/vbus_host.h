/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AlacrityVM vbus_host: the in-kernel venet backend (/dev/alacrityvm-host).
 *
 * Each open file serves at most one venet device.  The daemon (or any
 * process holding the region) opens the node, fills struct
 * vbus_host_attach from its PRIVATE layout record (never from the
 * guest-writable queue table), and calls VBUS_HOST_ATTACH; from then on a
 * kernel thread moves packets between the device's rings and the TAP.
 * VBUS_HOST_DETACH, or the last close() of the file, stops the thread and
 * drops every reference the module took (region pages, eventfds, TAP).
 *
 * The module never writes the event queue: the bridge runtime is its only
 * producer.  When a queue's to_guest shm-signal says "notify", the module
 * signals that queue's notify eventfd and the owner posts
 * VBUS_EV_SIGNAL(dev_id, queue) (which raises the interrupt if the event
 * queue's own signal says so).
 *
 * A guest fault (a descriptor that fails validation) stops the data path:
 * the file polls readable (EPOLLIN | EPOLLPRI) and VBUS_HOST_GET_STATS
 * reports VBUS_HOST_STATE_FAULTED with the reason.  docs/host-module.md
 * describes it all.
 */
#ifndef _UAPI_LINUX_VBUS_HOST_H
#define _UAPI_LINUX_VBUS_HOST_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vbus_ring.h>

#define VBUS_HOST_DEVICE_NAME	"alacrityvm-host"
#define VBUS_HOST_API_VERSION	1

/* venet queues served by one attach: rx (host -> guest), tx (guest -> host) */
#define VBUS_HOST_RX_QUEUE	0
#define VBUS_HOST_TX_QUEUE	1
#define VBUS_HOST_NUM_QUEUES	2

/*
 * struct vbus_host_attach - VBUS_HOST_ATTACH argument.
 *
 * The region memfd must be a shmem file (memfd_create without
 * MFD_HUGETLB) of at least @region_size bytes; the module maps its pages
 * and holds them until detach.  The TAP must have been created with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and a vnet header size of 12
 * (struct vbus_venet_hdr); its offloads are the caller's business
 * (TUNSETOFFLOAD after negotiation, as the userspace backend does).
 */
struct vbus_host_attach {
	__u32 api_version;	/* VBUS_HOST_API_VERSION */
	__u32 dev_id;		/* the device's vbus id (logs, stats) */
	__s32 region_fd;	/* memfd of the whole region */
	__s32 tap_fd;		/* TAP file */
	__s32 doorbell_fd;	/* eventfd the guest's doorbell vector signals */
	__s32 notify_fd[VBUS_HOST_NUM_QUEUES];	/* eventfds, one per queue */
	__u32 tx_signal_batch;	/* tx completions per to_guest notify, >= 1 */
	__u64 region_size;	/* bytes, as laid out */
	__u64 area_offset;	/* the device area, from the region start */
	__u64 area_size;	/* bytes */
	__u64 features;		/* negotiated VENET_F_* (VBUS_HOST_CONFIGURE) */
	__u32 link;		/* VBUS_HOST_LINK_ACTIVE or 0 */
	__u32 busy_poll_us;	/* poll this long after work before sleeping */
	struct vbus_queue_desc queues[VBUS_HOST_NUM_QUEUES];	/* host's copy */
	__u32 reserved[10];	/* zero */
};

/* struct vbus_host_config.link, struct vbus_host_attach.link */
#define VBUS_HOST_LINK_ACTIVE	0x0001	/* host and guest both want the link */

/*
 * struct vbus_host_config - VBUS_HOST_CONFIGURE argument: the state the
 * owner derives from the call channel (features negotiated, link).  Takes
 * effect from the next packet.
 */
struct vbus_host_config {
	__u64 features;		/* negotiated VENET_F_* */
	__u32 link;		/* VBUS_HOST_LINK_ACTIVE or 0 */
	__u32 reserved;		/* zero */
};

/* struct vbus_host_stats.state */
#define VBUS_HOST_STATE_DETACHED	0
#define VBUS_HOST_STATE_RUNNING		1
#define VBUS_HOST_STATE_FAULTED		2	/* guest fault: stopped */

/* struct vbus_host_stats.fault */
#define VBUS_HOST_FAULT_NONE		0
#define VBUS_HOST_FAULT_SEQ		1	/* seq neither old nor next */
#define VBUS_HOST_FAULT_FLAGS		2	/* unknown descriptor flags */
#define VBUS_HOST_FAULT_RESERVED	3	/* reserved field not zero */
#define VBUS_HOST_FAULT_OFFSET		4	/* offset outside the slot's buffer */
#define VBUS_HOST_FAULT_LENGTH		5	/* runs past the slot's buffer */
#define VBUS_HOST_FAULT_CHAIN		6	/* chain too long */
#define VBUS_HOST_FAULT_RX_SHORT	7	/* rx buffer cannot hold the header */

/*
 * struct vbus_host_stats - VBUS_HOST_GET_STATS result.  The counters mean
 * what the userspace backend's VenetStats fields of the same name mean.
 */
struct vbus_host_stats {
	__u32 state;		/* VBUS_HOST_STATE_* */
	__u32 fault;		/* VBUS_HOST_FAULT_* of the first fault */
	__u32 fault_queue;	/* queue of that fault */
	__u32 fault_index;	/* entry number of that fault */
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 tx_errors;	/* bad header or runt: VBUS_USED_F_ERROR */
	__u64 tx_dropped_link;
	__u64 tap_write_errors;
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 rx_no_buffers;
	__u64 rx_too_big;
	__u64 rx_dropped_link;
	__u64 doorbells;	/* eventfd counts consumed */
	__u64 tx_signals;	/* notify eventfd signalled for tx */
	__u64 tx_signals_suppressed;
	__u64 rx_signals;
	__u64 rx_signals_suppressed;
	__u64 wakeups;		/* worker woke from sleep */
	__u64 polls;		/* busy-poll passes */
	__u64 poll_hits;	/* ... that found work */
	__u64 bad_descriptors;
	__u64 reserved[7];	/* zero */
};

#define VBUS_HOST_IOC_MAGIC	0xB8	/* unassigned in ioctl-number.rst (6.1) */

#define VBUS_HOST_ATTACH	_IOW(VBUS_HOST_IOC_MAGIC, 0x01, struct vbus_host_attach)
#define VBUS_HOST_DETACH	_IO(VBUS_HOST_IOC_MAGIC, 0x02)
#define VBUS_HOST_CONFIGURE	_IOW(VBUS_HOST_IOC_MAGIC, 0x03, struct vbus_host_config)
#define VBUS_HOST_GET_STATS	_IOR(VBUS_HOST_IOC_MAGIC, 0x04, struct vbus_host_stats)

#endif /* _UAPI_LINUX_VBUS_HOST_H */
