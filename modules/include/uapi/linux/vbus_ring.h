/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AlacrityVM vbus: shm-signal and descriptor rings.
 *
 * Both structures live inside the shared ivshmem region and are read and
 * written concurrently by the guest kernel and the host backend.  See
 * docs/abi.md for the full protocol and the barrier pairing.
 */
#ifndef _UAPI_LINUX_VBUS_RING_H
#define _UAPI_LINUX_VBUS_RING_H

#include <linux/types.h>

#define VBUS_CACHELINE 64

/*
 * struct vbus_shm_signal - one direction of notification for one queue.
 *
 * The three words are flags: only "zero" and "non-zero" matter, so their
 * meaning does not depend on byte order.  The *receiver* owns @enabled;
 * @pending and @dirty are set by the sender and cleared by the receiver.
 *
 * Sender:   dirty = 1; full barrier;
 *           if (enabled && xchg(pending, 1) == 0) notify();
 * Receiver: loop { dirty = 0; full barrier; process(); } while (dirty);
 *           pending = 0; full barrier;
 *           if (dirty && xchg(pending, 1) == 0) goto loop;
 * Polling:  enabled = 0 while polling; to re-arm: enabled = 1; full barrier;
 *           if (dirty) there is work: keep polling.
 */
struct vbus_shm_signal {
	__u32 enabled;	/* receiver armed: it wants to be notified */
	__u32 pending;	/* a notification is in flight (sender sets) */
	__u32 dirty;	/* new work since the receiver last looked */
	__u32 reserved;	/* must be zero */
	__u8 pad[48];	/* the signal has its cache line to itself */
};

/*
 * Rings.  A queue is a pair of single-producer/single-consumer rings of the
 * same power-of-two size:
 *
 *  - the submit ring, written only by the guest: buffers it hands to the
 *    host (packets to send, or empty buffers to receive into);
 *  - the used ring, written only by the host: one entry per submitted
 *    entry, in submission order, saying how the buffer was used.
 *
 * Entry number i (a free-running 32-bit count) lives in slot
 * i & (num_entries - 1) and is valid once its @seq reads i + 1: the producer
 * writes the body first and @seq last (release), the consumer reads @seq
 * first (acquire) and the body after.  So each side polls entries, not
 * indexes, and no cache line is written by both sides.
 *
 * Completion is strictly in order, so the guest knows submit slot s is free
 * again once it has read used entry s.  Slot s owns pool buffer s: the
 * bytes [offset, offset + len) must lie inside [s * buf_size,
 * (s + 1) * buf_size), which the host checks on its private copy.
 */

/* The chain continues in the next entry (scatter-gather). */
#define VBUS_DESC_F_NEXT	0x0001

struct vbus_ring_desc {
	__le32 seq;	/* entry number + 1; written last by the guest */
	__le16 flags;	/* VBUS_DESC_F_* */
	__le16 reserved;	/* must be zero */
	__le32 offset;	/* buffer offset inside the queue's pool */
	__le32 len;	/* bytes the host may read (tx) or write (rx) */
};

/* More used entries follow for the same packet (rx chains). */
#define VBUS_USED_F_NEXT	0x0001
/* The host rejected this entry; @len is zero. */
#define VBUS_USED_F_ERROR	0x0002

struct vbus_ring_used {
	__le32 seq;	/* entry number + 1; written last by the host */
	__le16 flags;	/* VBUS_USED_F_* */
	__le16 reserved;	/* zero */
	__le32 len;	/* bytes the host wrote (rx) or consumed (tx) */
	__le32 reserved2;	/* zero */
};

/*
 * struct vbus_queue_desc - where one queue lives inside its device area.
 * Written by the host when it creates the device; every offset is relative
 * to the start of the device area.  Guests check all of it before use.
 */
struct vbus_queue_desc {
	__le32 num_entries;	/* ring size, a power of two */
	__le32 buf_size;	/* bytes per pool buffer */
	__le32 submit_offset;	/* array of num_entries struct vbus_ring_desc */
	__le32 used_offset;	/* array of num_entries struct vbus_ring_used */
	__le32 to_host_offset;	/* struct vbus_shm_signal, host receives */
	__le32 to_guest_offset;	/* struct vbus_shm_signal, guest receives */
	__le32 pool_offset;	/* num_entries buffers of buf_size bytes */
	__le32 pool_size;	/* num_entries * buf_size */
	__le32 reserved[8];	/* zero */
};

#endif /* _UAPI_LINUX_VBUS_RING_H */
