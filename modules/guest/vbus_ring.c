// SPDX-License-Identifier: GPL-2.0
/*
 * AlacrityVM vbus: guest endpoint of a queue (submit and used rings).
 * Built into vbus_pci.ko and exported to the class drivers; the shm-signal
 * steps are the inline functions of <linux/vbus_shm_signal.h>.
 *
 * The barriers follow the table in docs/abi.md: entries are published with
 * a release store of their seq and consumed with an acquire load of it.
 * The host side is C++ (std::atomic_ref): release/acquire on seq.
 *
 * This file also builds in userspace against tests/unit/ring_compat/'s
 * kernel compatibility headers, where a test runs it against the C++ host
 * endpoint: keep to what those headers provide.
 */
#include <linux/atomic.h>
#include <linux/export.h>
#include <linux/string.h>
#include <linux/vbus_shm_signal.h>

#include "vbus_bus.h"

/**
 * vbus_ring_init() - set up the guest endpoint of a device queue
 * @ring: endpoint to fill
 * @vdev: the device
 * @queue: queue index
 *
 * Points @ring at the queue described by the device's validated queue
 * descriptor, zeroes the guest-written submit ring and the guest's own
 * receive signal.  Call it before VBUS_CALL_DEV_OPEN, while the host does
 * not serve the device.
 *
 * Context: process context, the device's driver (probe).
 * Return: 0, or -EINVAL when @queue does not exist.
 */
int vbus_ring_init(struct vbus_ring *ring, struct vbus_device *vdev,
		   u32 queue)
{
	const struct vbus_queue_desc *qd = vbus_dev_queue_desc(vdev, queue);
	u8 *area = vdev->area;

	if (!qd)
		return -EINVAL;
	ring->num = le32_to_cpu(qd->num_entries);
	ring->mask = ring->num - 1;
	ring->buf_size = le32_to_cpu(qd->buf_size);
	ring->submit = (void *)(area + le32_to_cpu(qd->submit_offset));
	ring->used = (void *)(area + le32_to_cpu(qd->used_offset));
	ring->to_host = (void *)(area + le32_to_cpu(qd->to_host_offset));
	ring->to_guest = (void *)(area + le32_to_cpu(qd->to_guest_offset));
	ring->pool = area + le32_to_cpu(qd->pool_offset);
	ring->head = 0;
	ring->tail = 0;

	/* The host reads these only after VBUS_CALL_DEV_OPEN, whose release
	 * store of req_seq orders them.
	 */
	memset(ring->submit, 0, sizeof(*ring->submit) * ring->num);
	vbus_shm_signal_reset(ring->to_guest);
	return 0;
}
EXPORT_SYMBOL_GPL(vbus_ring_init);

/**
 * vbus_ring_is_clean() - check the host reset the used ring
 * @ring: the ring, after VBUS_CALL_DEV_OPEN
 *
 * The guest starts counting entries at 0 after an open, so every used
 * entry must read seq 0 (never written); anything else means the host kept
 * stale state and the ring cannot be used safely.
 *
 * Return: true when every used entry has seq 0.
 */
bool vbus_ring_is_clean(const struct vbus_ring *ring)
{
	u32 i;

	for (i = 0; i < ring->num; i++)
		if (READ_ONCE(ring->used[i].seq))
			return false;
	return true;
}
EXPORT_SYMBOL_GPL(vbus_ring_is_clean);

/**
 * vbus_ring_set() - fill the body of a submit entry, not yet published
 * @ring: the ring
 * @n: which entry, counted from @ring->head (0 is the next one)
 * @flags: VBUS_DESC_F_*
 * @len: bytes the host may read (tx) or write (rx), from the start of the
 *	entry's own pool buffer (the buffer of slot (@ring->head + @n) & mask)
 *
 * The caller has checked @n < vbus_ring_free_slots() and @len <=
 * @ring->buf_size.  Nothing is visible to the host until
 * vbus_ring_commit().
 *
 * Context: the ring's single submitter (caller serializes).
 */
void vbus_ring_set(struct vbus_ring *ring, u32 n, u16 flags, u32 len)
{
	u32 slot = (ring->head + n) & ring->mask;
	struct vbus_ring_desc *d = &ring->submit[slot];

	WRITE_ONCE(d->flags, cpu_to_le16(flags));
	WRITE_ONCE(d->reserved, 0);
	WRITE_ONCE(d->offset, cpu_to_le32(slot * ring->buf_size));
	WRITE_ONCE(d->len, cpu_to_le32(len));
}
EXPORT_SYMBOL_GPL(vbus_ring_set);

/**
 * vbus_ring_commit() - publish entries filled with vbus_ring_set()
 * @ring: the ring
 * @count: entries to publish, from @ring->head
 *
 * The seq words are stored last to first, so the first entry of a chain
 * becomes valid last: a host that sees it (acquire) also sees the rest of
 * the chain.  The host only learns about the entries through its
 * shm-signal: call vbus_shm_signal_notify() on @ring->to_host afterwards.
 *
 * Context: the ring's single submitter (caller serializes).
 */
void vbus_ring_commit(struct vbus_ring *ring, u32 count)
{
	u32 i;

	for (i = count; i-- > 0;) {
		u32 e = ring->head + i;

		/* Publish the body (and, for i == 0, the whole chain) before
		 * seq; pairs with the host's acquire load of seq before it
		 * copies the entry.
		 */
		smp_store_release(&ring->submit[e & ring->mask].seq,
				  cpu_to_le32(e + 1));
	}
	ring->head += count;
}
EXPORT_SYMBOL_GPL(vbus_ring_commit);

/**
 * vbus_ring_peek_used() - copy a used entry without consuming it
 * @ring: the ring
 * @n: which entry, counted from @ring->tail (0 is the next one)
 * @copy: private copy of the entry, valid when 1 is returned
 *
 * The host is not trusted: the entry is copied and checked (sequence,
 * known flags, an entry the guest actually submitted).  The caller checks
 * @copy->len against what it submitted, then calls vbus_ring_consume().
 *
 * Context: the ring's single used-entry consumer (caller serializes).
 * Return: 1 when @copy holds a new entry, 0 when the host has not written
 * it yet, -EPROTO when the shared entry is corrupt.
 */
int vbus_ring_peek_used(const struct vbus_ring *ring, u32 n,
			struct vbus_ring_used *copy)
{
	u32 e = ring->tail + n;
	struct vbus_ring_used *u = &ring->used[e & ring->mask];
	u32 seq;
	u16 flags;

	/* Read seq before the body; pairs with the host's release store of
	 * seq (memory_order_release) after it wrote the body.
	 */
	seq = le32_to_cpu(smp_load_acquire(&u->seq));
	if (seq != e + 1) {
		/* never written in this lap: 0 (fresh ring) or last lap's */
		if (seq == e + 1 - ring->num || (seq == 0 && e < ring->num))
			return 0;
		return -EPROTO;
	}
	if (n >= vbus_ring_in_flight(ring))
		return -EPROTO;	/* an entry the guest never submitted */

	flags = le16_to_cpu(READ_ONCE(u->flags));
	if (flags & ~(VBUS_USED_F_NEXT | VBUS_USED_F_ERROR))
		return -EPROTO;
	copy->seq = cpu_to_le32(seq);
	copy->flags = cpu_to_le16(flags);
	copy->reserved = 0;
	copy->len = READ_ONCE(u->len);
	copy->reserved2 = 0;
	return 1;
}
EXPORT_SYMBOL_GPL(vbus_ring_peek_used);
