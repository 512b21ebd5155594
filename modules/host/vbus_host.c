// SPDX-License-Identifier: GPL-2.0
/*
 * AlacrityVM vbus_host: the in-kernel venet backend.
 *
 * /dev/alacrityvm-host is a misc device.  Each open file serves at most one
 * venet device: VBUS_HOST_ATTACH hands it the region memfd (its shmem
 * pages covering the device area are pinned and vmap()ed), the host's
 * private copy of the two queue descriptors, the guest doorbell eventfd,
 * one notify eventfd per queue and a TAP file.  A kernel thread then moves
 * packets between the rings and the TAP's socket (tun_get_socket(), like
 * vhost-net), with the rules of the userspace backend (userspace/venet):
 *
 *  - every submit entry is copied to private memory, one READ_ONCE() per
 *    field, and validated on the copy (seq, flags, reserved, offset and
 *    length inside the entry's own pool buffer, chain length); a bad one is
 *    a guest fault: the data path stops and the file polls readable;
 *  - the venet header is gathered into private memory and checked against
 *    the negotiated features before the TAP sees it; a bad packet completes
 *    with VBUS_USED_F_ERROR;
 *  - used entries are written body first, seq last with a release store;
 *  - shm-signal: the to_host signals are received with the handle loop
 *    (dirty/pending), disarmed while busy-polling and re-armed with the
 *    final re-check; completions run the to_guest sender side, and only
 *    when it says "notify" is the queue's notify eventfd signalled (the
 *    owner posts VBUS_EV_SIGNAL on the event queue, of which it stays the
 *    only producer).
 *
 * The shm-signal steps and their barriers A-D (docs/abi.md, "shm-signal")
 * are <linux/vbus_shm_signal.h>, shared with the guest drivers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kthread.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/u64_stats_sync.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/vbus_host.h>
#include <linux/vbus_ring.h>
#include <linux/vbus_shm_signal.h>
#include <linux/vbus_venet.h>
#include <linux/vmalloc.h>

#define VBUS_HOST_MAX_ENTRIES	4096		/* as QueueView::kMaxEntries */
#define VBUS_HOST_MAX_BUF	SZ_1M		/* as QueueView::kMaxBufSize */
#define VBUS_HOST_MAX_REGION	SZ_4G		/* bytes */
#define VBUS_HOST_MAX_POLL_US	10000
#define VBUS_HOST_HDR_LEN	((u32)sizeof(struct vbus_venet_hdr))
#define VBUS_HOST_ETH_HLEN	14
#define VBUS_HOST_MAX_CHAIN_BYTES	(VBUS_HOST_HDR_LEN + VENET_MAX_PACKET)
/* Private frame buffer for rx: header, a 64 KiB frame and some slack */
#define VBUS_HOST_FRAME_BUF	(VBUS_HOST_MAX_CHAIN_BYTES + 4096)
#define VBUS_HOST_TX_BUDGET	256	/* tx packets per pass */
#define VBUS_HOST_RX_BUDGET	64	/* rx frames per pass */

#define VBUS_HOST_KNOWN_FEATURES	(VENET_F_CSUM | VENET_F_GUEST_CSUM | \
	VENET_F_HOST_TSO4 | VENET_F_HOST_TSO6 | VENET_F_GUEST_TSO4 | \
	VENET_F_GUEST_TSO6 | VENET_F_HOST_ECN | VENET_F_GUEST_ECN | \
	VENET_F_MRG_RXBUF | VENET_F_SG)

/* vbus_host_dev.flags bits, set by the wake-up callbacks */
enum {
	VBUS_HOST_KICK,		/* run a pass */
	VBUS_HOST_TAP_READY,	/* the TAP may have a frame to read */
};

/* Counters: one enum entry and one table line each (vbus_host_ctr_off) */
enum vbus_host_ctr {
	VBUS_HOST_C_TX_PACKETS,
	VBUS_HOST_C_TX_BYTES,
	VBUS_HOST_C_TX_ERRORS,
	VBUS_HOST_C_TX_DROPPED_LINK,
	VBUS_HOST_C_TAP_WRITE_ERRORS,
	VBUS_HOST_C_RX_PACKETS,
	VBUS_HOST_C_RX_BYTES,
	VBUS_HOST_C_RX_NO_BUFFERS,
	VBUS_HOST_C_RX_TOO_BIG,
	VBUS_HOST_C_RX_DROPPED_LINK,
	VBUS_HOST_C_DOORBELLS,
	VBUS_HOST_C_TX_SIGNALS,
	VBUS_HOST_C_TX_SIGNALS_SUPPRESSED,
	VBUS_HOST_C_RX_SIGNALS,
	VBUS_HOST_C_RX_SIGNALS_SUPPRESSED,
	VBUS_HOST_C_WAKEUPS,
	VBUS_HOST_C_POLLS,
	VBUS_HOST_C_POLL_HITS,
	VBUS_HOST_C_BAD_DESCRIPTORS,
	VBUS_HOST_NR_CTRS
};

#define VBUS_HOST_CTR(c, field) \
	[VBUS_HOST_C_##c] = offsetof(struct vbus_host_stats, field)

static const size_t vbus_host_ctr_off[VBUS_HOST_NR_CTRS] = {
	VBUS_HOST_CTR(TX_PACKETS, tx_packets),
	VBUS_HOST_CTR(TX_BYTES, tx_bytes),
	VBUS_HOST_CTR(TX_ERRORS, tx_errors),
	VBUS_HOST_CTR(TX_DROPPED_LINK, tx_dropped_link),
	VBUS_HOST_CTR(TAP_WRITE_ERRORS, tap_write_errors),
	VBUS_HOST_CTR(RX_PACKETS, rx_packets),
	VBUS_HOST_CTR(RX_BYTES, rx_bytes),
	VBUS_HOST_CTR(RX_NO_BUFFERS, rx_no_buffers),
	VBUS_HOST_CTR(RX_TOO_BIG, rx_too_big),
	VBUS_HOST_CTR(RX_DROPPED_LINK, rx_dropped_link),
	VBUS_HOST_CTR(DOORBELLS, doorbells),
	VBUS_HOST_CTR(TX_SIGNALS, tx_signals),
	VBUS_HOST_CTR(TX_SIGNALS_SUPPRESSED, tx_signals_suppressed),
	VBUS_HOST_CTR(RX_SIGNALS, rx_signals),
	VBUS_HOST_CTR(RX_SIGNALS_SUPPRESSED, rx_signals_suppressed),
	VBUS_HOST_CTR(WAKEUPS, wakeups),
	VBUS_HOST_CTR(POLLS, polls),
	VBUS_HOST_CTR(POLL_HITS, poll_hits),
	VBUS_HOST_CTR(BAD_DESCRIPTORS, bad_descriptors),
};

/* A validated private copy of one submit entry. */
struct vbus_host_desc {
	u32 index;	/* entry number (free-running) */
	u16 flags;	/* VBUS_DESC_F_* */
	u32 offset;	/* in the queue's pool, inside the slot's buffer */
	u32 len;	/* bytes, inside the slot's buffer */
};

/* The host endpoint of one queue. */
struct vbus_host_queue {
	u32 num;			/* entries, a power of two */
	u32 buf_size;			/* bytes per pool buffer */
	u32 max_chain;			/* longest F_NEXT chain accepted */
	struct vbus_ring_desc *submit;	/* guest-written */
	struct vbus_ring_used *used;	/* ours */
	struct vbus_shm_signal *to_host;	/* we receive */
	struct vbus_shm_signal *to_guest;	/* we send */
	u8 *pool;			/* num * buf_size bytes */
	u32 next_submit;		/* next submit entry to take */
	u32 next_used;			/* next used entry to produce */
	u64 lap;			/* entries taken so far */
	u32 chain_len;			/* entries of the open F_NEXT chain */
	struct vbus_host_desc *descs;	/* copies of [next_used, next_submit) by slot */
	struct eventfd_ctx *notify;	/* signalled when to_guest says so */
};

/* A file watched through its wait queue (vhost_poll's idea). */
struct vbus_host_poll {
	wait_queue_entry_t wait;	/* our entry on @wqh */
	poll_table table;		/* registers @wait from vfs_poll() */
	wait_queue_head_t *wqh;		/* the file's queue, NULL if none */
	struct vbus_host_dev *h;	/* owner */
};

/* One open file of /dev/alacrityvm-host. */
struct vbus_host_dev {
	struct mutex lock;		/* serialises ioctls and release */
	bool attached;			/* under @lock */
	u32 dev_id;			/* vbus id, for logs */
	u32 state;			/* VBUS_HOST_STATE_*, READ_ONCE */
	u32 fault;			/* VBUS_HOST_FAULT_* (worker, then frozen) */
	u32 fault_queue;		/* queue of @fault */
	u32 fault_index;		/* entry of @fault */
	wait_queue_head_t fault_wq;	/* poll() waiters */

	/* the mapped device area */
	struct page **pages;		/* pinned shmem pages */
	unsigned long npages;		/* entries of @pages */
	void *map;			/* vmap() of @pages */
	u8 *area;			/* the area inside @map */

	struct vbus_host_queue q[VBUS_HOST_NUM_QUEUES];	/* rx, tx */

	struct file *doorbell_file;	/* the guest's doorbell eventfd */
	struct eventfd_ctx *doorbell;	/* its context, for do_read */
	struct vbus_host_poll doorbell_poll;
	struct file *tap_file;		/* held while we use @sock */
	struct socket *sock;		/* the TAP's socket */
	struct vbus_host_poll tap_poll;

	struct task_struct *worker;	/* "avm-vhost-<id>" */
	unsigned long flags;		/* VBUS_HOST_KICK, VBUS_HOST_TAP_READY */
	u64 features;			/* negotiated VENET_F_*, READ_ONCE */
	u32 link;			/* VBUS_HOST_LINK_*, READ_ONCE */
	u32 busy_poll_us;		/* polling time after work */
	u32 tx_signal_batch;		/* completions per tx notify */
	u32 tx_since_signal;		/* worker: tx completions not yet signalled */
	u64 tx_chain_bytes;		/* worker: bytes of the open tx chain */
	struct kvec *tx_iov;		/* worker: header + one per chain entry */
	u8 *frame;			/* worker: rx frame buffer */
	atomic64_t doorbell_count;	/* eventfd counts consumed by the callback */

	struct u64_stats_sync syncp;	/* guards @ctr (worker writes) */
	u64_stats_t ctr[VBUS_HOST_NR_CTRS];	/* counters */
};

static void vbus_host_inc(struct vbus_host_dev *h, enum vbus_host_ctr c,
			  u64 n)
{
	u64_stats_update_begin(&h->syncp);
	u64_stats_add(&h->ctr[c], n);
	u64_stats_update_end(&h->syncp);
}

/* --- rings ---------------------------------------------------------------- */

static void vbus_host_set_fault(struct vbus_host_dev *h, u32 queue,
				u32 fault, u32 index)
{
	vbus_host_inc(h, VBUS_HOST_C_BAD_DESCRIPTORS, 1);
	if (READ_ONCE(h->state) == VBUS_HOST_STATE_FAULTED)
		return;
	h->fault = fault;
	h->fault_queue = queue;
	h->fault_index = index;
	/* Publish the fault fields before the state poll() readers test. */
	smp_store_release(&h->state, VBUS_HOST_STATE_FAULTED);
	wake_up_interruptible_poll(&h->fault_wq, EPOLLIN | EPOLLPRI);
	pr_warn_ratelimited("device %u: guest fault %u on queue %u entry %u: stopped\n",
			    h->dev_id, fault, queue, index);
}

/*
 * Copies and validates the next submit entry of queue @qi.  Returns 1 and
 * the copy in @out, 0 when none is published (or the ring is all
 * outstanding), or -EPROTO after recording a guest fault.
 */
static int vbus_host_poll_one(struct vbus_host_dev *h, u32 qi,
			      struct vbus_host_desc **out)
{
	struct vbus_host_queue *q = &h->q[qi];
	u32 index = q->next_submit;
	struct vbus_ring_desc *shared = &q->submit[index & (q->num - 1)];
	struct vbus_host_desc *d;
	u32 seq, old_seq, offset, len, start;
	u16 flags, reserved;

	if (index - q->next_used == q->num)
		return 0;
	/*
	 * The private copy: seq first with acquire, pairing with the guest's
	 * smp_store_release() of seq after the body; then each body field
	 * exactly once.
	 */
	seq = le32_to_cpu((__force __le32)smp_load_acquire((__force u32 *)&shared->seq));
	flags = le16_to_cpu(READ_ONCE(shared->flags));
	reserved = le16_to_cpu(READ_ONCE(shared->reserved));
	offset = le32_to_cpu(READ_ONCE(shared->offset));
	len = le32_to_cpu(READ_ONCE(shared->len));

	/* In the first lap the slot holds the zero the host laid out. */
	old_seq = q->lap < q->num ? 0 : index + 1 - q->num;
	if (seq == old_seq)
		return 0;
	if (seq != index + 1)
		goto fault_seq;
	if (flags & ~VBUS_DESC_F_NEXT) {
		vbus_host_set_fault(h, qi, VBUS_HOST_FAULT_FLAGS, index);
		return -EPROTO;
	}
	if (reserved) {
		vbus_host_set_fault(h, qi, VBUS_HOST_FAULT_RESERVED, index);
		return -EPROTO;
	}
	start = (index & (q->num - 1)) * q->buf_size;
	if (offset < start || offset - start >= q->buf_size) {
		vbus_host_set_fault(h, qi, VBUS_HOST_FAULT_OFFSET, index);
		return -EPROTO;
	}
	/* 64-bit sum of two 32-bit values: cannot overflow */
	if ((u64)offset + len > (u64)start + q->buf_size) {
		vbus_host_set_fault(h, qi, VBUS_HOST_FAULT_LENGTH, index);
		return -EPROTO;
	}
	if ((flags & VBUS_DESC_F_NEXT) && q->chain_len + 1 >= q->max_chain) {
		vbus_host_set_fault(h, qi, VBUS_HOST_FAULT_CHAIN, index);
		return -EPROTO;
	}
	d = &q->descs[index & (q->num - 1)];
	d->index = index;
	d->flags = flags;
	d->offset = offset;
	d->len = len;
	q->chain_len = (flags & VBUS_DESC_F_NEXT) ? q->chain_len + 1 : 0;
	q->next_submit++;
	q->lap++;
	*out = d;
	return 1;

fault_seq:
	vbus_host_set_fault(h, qi, VBUS_HOST_FAULT_SEQ, index);
	return -EPROTO;
}

/* The buffer bytes of a validated descriptor (contents stay untrusted). */
static u8 *vbus_host_buf(struct vbus_host_queue *q,
			 const struct vbus_host_desc *d)
{
	return q->pool + d->offset;
}

/* Produces the used entry of the oldest outstanding descriptor. */
static void vbus_host_complete(struct vbus_host_queue *q, u32 len, u16 flags)
{
	u32 index = q->next_used;
	struct vbus_ring_used *u = &q->used[index & (q->num - 1)];

	WRITE_ONCE(u->flags, cpu_to_le16(flags));
	WRITE_ONCE(u->reserved, 0);
	WRITE_ONCE(u->len, cpu_to_le32(len));
	WRITE_ONCE(u->reserved2, 0);
	/*
	 * Body first, seq last: pairs with the guest's smp_load_acquire() of
	 * the used seq; also orders our reads of the entry and its buffer
	 * before the guest may reuse the slot.
	 */
	smp_store_release((__force u32 *)&u->seq,
			  (__force u32)cpu_to_le32(index + 1));
	q->next_used++;
}

/* Runs the to_guest sender side of queue @qi and notifies if needed. */
static void vbus_host_signal_guest(struct vbus_host_dev *h, u32 qi)
{
	bool tx = qi == VBUS_HOST_TX_QUEUE;

	if (vbus_shm_signal_notify(h->q[qi].to_guest)) {
		eventfd_signal(h->q[qi].notify, 1);
		vbus_host_inc(h, tx ? VBUS_HOST_C_TX_SIGNALS :
			      VBUS_HOST_C_RX_SIGNALS, 1);
	} else {
		vbus_host_inc(h, tx ? VBUS_HOST_C_TX_SIGNALS_SUPPRESSED :
			      VBUS_HOST_C_RX_SIGNALS_SUPPRESSED, 1);
	}
}

static bool vbus_host_link_active(struct vbus_host_dev *h)
{
	return READ_ONCE(h->link) & VBUS_HOST_LINK_ACTIVE;
}

/* --- transmit (guest -> TAP) ---------------------------------------------- */

/* The checks of venet_tx_header_ok() (userspace/venet), on a private copy. */
static bool vbus_host_tx_hdr_ok(const struct vbus_venet_hdr *hdr, u64 f)
{
	u8 gso = hdr->gso_type & ~VENET_HDR_GSO_ECN;

	if (hdr->flags & ~(VENET_HDR_F_NEEDS_CSUM | VENET_HDR_F_DATA_VALID))
		return false;
	if ((hdr->flags & VENET_HDR_F_NEEDS_CSUM) && !(f & VENET_F_CSUM))
		return false;
	if ((hdr->gso_type & VENET_HDR_GSO_ECN) && !(f & VENET_F_HOST_ECN))
		return false;
	switch (gso) {
	case VENET_HDR_GSO_NONE:
		return !(hdr->gso_type & VENET_HDR_GSO_ECN);
	case VENET_HDR_GSO_TCPV4:
		return (f & VENET_F_HOST_TSO4) && hdr->gso_size;
	case VENET_HDR_GSO_TCPV6:
		return (f & VENET_F_HOST_TSO6) && hdr->gso_size;
	default:
		return false;	/* UDP fragmentation offload is not offered */
	}
}

/* Sends the complete chain [next_used, next_submit) and completes it. */
static void vbus_host_tx_chain(struct vbus_host_dev *h)
{
	struct vbus_host_queue *q = &h->q[VBUS_HOST_TX_QUEUE];
	struct vbus_venet_hdr hdr = {};
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	u32 n = q->next_submit - q->next_used;
	u64 frame = h->tx_chain_bytes > VBUS_HOST_HDR_LEN ?
		    h->tx_chain_bytes - VBUS_HOST_HDR_LEN : 0;
	size_t got = 0, skip, total = 0;
	u16 flags = 0;
	u32 i, niov = 0;
	int ret;

	/* The header, gathered from the start of the chain, private. */
	for (i = 0; i < n && got < sizeof(hdr); i++) {
		struct vbus_host_desc *d = &q->descs[(q->next_used + i) & (q->num - 1)];
		size_t c = min_t(size_t, d->len, sizeof(hdr) - got);

		memcpy((u8 *)&hdr + got, vbus_host_buf(q, d), c);
		got += c;
	}
	if (got < sizeof(hdr) || frame < VBUS_HOST_ETH_HLEN ||
	    !vbus_host_tx_hdr_ok(&hdr, READ_ONCE(h->features))) {
		vbus_host_inc(h, VBUS_HOST_C_TX_ERRORS, 1);
		flags = VBUS_USED_F_ERROR;
		goto complete;
	}
	if (!vbus_host_link_active(h)) {
		vbus_host_inc(h, VBUS_HOST_C_TX_DROPPED_LINK, 1);
		goto complete;
	}
	hdr.num_buffers = 0;	/* transmit: always 0, ours */
	h->tx_iov[niov].iov_base = &hdr;
	h->tx_iov[niov++].iov_len = sizeof(hdr);
	total = sizeof(hdr);
	skip = sizeof(hdr);
	for (i = 0; i < n; i++) {
		struct vbus_host_desc *d = &q->descs[(q->next_used + i) & (q->num - 1)];
		size_t s = min_t(size_t, skip, d->len);

		skip -= s;
		if (d->len == s)
			continue;
		h->tx_iov[niov].iov_base = vbus_host_buf(q, d) + s;
		h->tx_iov[niov++].iov_len = d->len - s;
		total += d->len - s;
	}
	/* The TAP copies the payload; its contents are opaque to us. */
	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, h->tx_iov, niov, total);
	ret = h->sock->ops->sendmsg(h->sock, &msg, total);
	if (ret < 0) {
		vbus_host_inc(h, VBUS_HOST_C_TAP_WRITE_ERRORS, 1);
	} else {
		vbus_host_inc(h, VBUS_HOST_C_TX_PACKETS, 1);
		vbus_host_inc(h, VBUS_HOST_C_TX_BYTES, frame);
	}

complete:
	for (i = 0; i < n; i++) {
		struct vbus_host_desc *d = &q->descs[q->next_used & (q->num - 1)];

		vbus_host_complete(q, flags ? 0 : d->len, flags);
	}
	h->tx_chain_bytes = 0;
	h->tx_since_signal += n;
	if (h->tx_since_signal >= h->tx_signal_batch) {
		h->tx_since_signal = 0;
		vbus_host_signal_guest(h, VBUS_HOST_TX_QUEUE);
	}
}

/*
 * Transmits the chains the guest published, up to the budget.  Sets
 * *@work when it handled a packet and *@more when the budget ran out.
 */
static int vbus_host_tx(struct vbus_host_dev *h, bool *work, bool *more)
{
	struct vbus_host_desc *d;
	int packets = 0;
	int ret;

	while (packets < VBUS_HOST_TX_BUDGET) {
		ret = vbus_host_poll_one(h, VBUS_HOST_TX_QUEUE, &d);
		if (ret < 0)
			return ret;
		if (!ret)
			break;
		h->tx_chain_bytes += d->len;
		if (h->tx_chain_bytes > VBUS_HOST_MAX_CHAIN_BYTES) {
			vbus_host_set_fault(h, VBUS_HOST_TX_QUEUE,
					    VBUS_HOST_FAULT_CHAIN, d->index);
			return -EPROTO;
		}
		if (!(d->flags & VBUS_DESC_F_NEXT)) {
			vbus_host_tx_chain(h);
			packets++;
		}
	}
	if (packets == VBUS_HOST_TX_BUDGET)
		*more = true;
	if (packets)
		*work = true;
	if (h->tx_since_signal) {
		h->tx_since_signal = 0;
		vbus_host_signal_guest(h, VBUS_HOST_TX_QUEUE);
	}
	return 0;
}

/* --- receive (TAP -> guest) ----------------------------------------------- */

/* Takes every posted rx buffer: copied, validated, kept in descs[]. */
static int vbus_host_rx_refill(struct vbus_host_dev *h)
{
	struct vbus_host_desc *d;
	int ret;

	for (;;) {
		ret = vbus_host_poll_one(h, VBUS_HOST_RX_QUEUE, &d);
		if (ret <= 0)
			return ret;
		if (d->len < VBUS_HOST_HDR_LEN) {
			vbus_host_set_fault(h, VBUS_HOST_RX_QUEUE,
					    VBUS_HOST_FAULT_RX_SHORT, d->index);
			return -EPROTO;
		}
	}
}

static u32 vbus_host_rx_avail(struct vbus_host_dev *h)
{
	struct vbus_host_queue *q = &h->q[VBUS_HOST_RX_QUEUE];

	return q->next_submit - q->next_used;
}

/* Reads one frame into h->frame: its length, 0 when drained. */
static int vbus_host_rx_read(struct vbus_host_dev *h)
{
	struct msghdr msg = { .msg_flags = 0 };
	struct kvec iov = {
		.iov_base = h->frame,
		.iov_len = VBUS_HOST_FRAME_BUF,
	};
	int ret;

	iov_iter_kvec(&msg.msg_iter, ITER_DEST, &iov, 1, iov.iov_len);
	ret = h->sock->ops->recvmsg(h->sock, &msg, iov.iov_len,
				    MSG_DONTWAIT | MSG_TRUNC);
	if (ret > 0)
		return ret;
	/*
	 * Drained (or the TAP went away).  Clear readiness, then look again:
	 * a frame queued between our read and the clear woke the callback
	 * before the clear, so poll the TAP once more.
	 */
	clear_bit(VBUS_HOST_TAP_READY, &h->flags);
	/*
	 * Orders the clear before the poll below reads the TAP's queue;
	 * pairs with the wake-up's set_bit() after tun queued the frame.
	 */
	smp_mb__after_atomic();
	if (vfs_poll(h->tap_file, NULL) & EPOLLIN)
		set_bit(VBUS_HOST_TAP_READY, &h->flags);
	return 0;
}

/* Copies a frame of @len bytes into posted buffers and completes them. */
static void vbus_host_rx_deliver(struct vbus_host_dev *h, u32 len)
{
	struct vbus_host_queue *q = &h->q[VBUS_HOST_RX_QUEUE];
	struct vbus_venet_hdr *hdr = (struct vbus_venet_hdr *)h->frame;
	bool mrg = READ_ONCE(h->features) & VENET_F_MRG_RXBUF;
	u32 avail = vbus_host_rx_avail(h);
	u32 need = 0, room = 0, off = 0, k;

	while (room < len && need < avail && (mrg || need == 0)) {
		room += q->descs[(q->next_used + need) & (q->num - 1)].len;
		need++;
	}
	if (room < len) {
		vbus_host_inc(h, !mrg ? VBUS_HOST_C_RX_TOO_BIG :
			      VBUS_HOST_C_RX_NO_BUFFERS, 1);
		return;
	}
	/* num_buffers is ours to fill (the TAP leaves it): private copy */
	hdr->num_buffers = cpu_to_le16(need);
	for (k = 0; k < need; k++) {
		struct vbus_host_desc *d = &q->descs[q->next_used & (q->num - 1)];
		u32 chunk = min(d->len, len - off);

		memcpy(vbus_host_buf(q, d), h->frame + off, chunk);
		off += chunk;
		vbus_host_complete(q, chunk, k + 1 < need ? VBUS_USED_F_NEXT : 0);
	}
	vbus_host_inc(h, VBUS_HOST_C_RX_PACKETS, 1);
	vbus_host_inc(h, VBUS_HOST_C_RX_BYTES, len - VBUS_HOST_HDR_LEN);
}

/* Moves frames from the TAP to posted buffers, up to the budget. */
static int vbus_host_rx(struct vbus_host_dev *h, bool *work, bool *more)
{
	int delivered = 0, i, len, ret;

	for (i = 0; i < VBUS_HOST_RX_BUDGET; i++) {
		ret = vbus_host_rx_refill(h);
		if (ret)
			return ret;
		/* No buffer: leave the frame queued in the TAP. */
		if (!vbus_host_rx_avail(h) ||
		    !test_bit(VBUS_HOST_TAP_READY, &h->flags))
			break;
		len = vbus_host_rx_read(h);
		if (!len)
			break;
		if (len > VBUS_HOST_FRAME_BUF) {
			vbus_host_inc(h, VBUS_HOST_C_RX_TOO_BIG, 1);
			continue;
		}
		if (!vbus_host_link_active(h)) {
			vbus_host_inc(h, VBUS_HOST_C_RX_DROPPED_LINK, 1);
			continue;
		}
		if (len < VBUS_HOST_HDR_LEN + VBUS_HOST_ETH_HLEN)
			continue;	/* the TAP never writes runts */
		vbus_host_rx_deliver(h, len);
		delivered++;
	}
	if (i == VBUS_HOST_RX_BUDGET)
		*more = true;
	if (delivered) {
		*work = true;
		vbus_host_signal_guest(h, VBUS_HOST_RX_QUEUE);
	}
	return vbus_host_rx_refill(h);
}

/* --- worker ----------------------------------------------------------------- */

/*
 * The receiver loop of one queue's to_host signal around @fn: passes until
 * no new work was flagged, then releases pending with the re-check.
 */
static int vbus_host_handle(struct vbus_host_dev *h, u32 qi,
			    int (*fn)(struct vbus_host_dev *, bool *, bool *),
			    bool *work, bool *more)
{
	struct vbus_shm_signal *s = h->q[qi].to_host;
	int ret;

	do {
		do {
			vbus_shm_signal_clear_dirty(s);
			ret = fn(h, work, more);
			if (ret)
				return ret;
		} while (vbus_shm_signal_dirty(s) && !*more);
	} while (!*more && vbus_shm_signal_release_pending(s));
	return 0;
}

static int vbus_host_pass(struct vbus_host_dev *h, bool *work, bool *more)
{
	u64 rang = atomic64_xchg(&h->doorbell_count, 0);
	int ret;

	if (rang)
		vbus_host_inc(h, VBUS_HOST_C_DOORBELLS, rang);
	ret = vbus_host_handle(h, VBUS_HOST_TX_QUEUE, vbus_host_tx, work, more);
	if (ret)
		return ret;
	return vbus_host_handle(h, VBUS_HOST_RX_QUEUE, vbus_host_rx, work, more);
}

static int vbus_host_worker(void *data)
{
	struct vbus_host_dev *h = data;
	struct vbus_shm_signal *txs = h->q[VBUS_HOST_TX_QUEUE].to_host;
	struct vbus_shm_signal *rxs = h->q[VBUS_HOST_RX_QUEUE].to_host;
	bool polling = false, work, more;
	ktime_t deadline = 0;

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		/*
		 * set_current_state() is a full barrier: a waker that sets
		 * KICK after our test also finds us sleeping and wakes us.
		 */
		if (!test_and_clear_bit(VBUS_HOST_KICK, &h->flags) &&
		    !polling) {
			schedule();
			vbus_host_inc(h, VBUS_HOST_C_WAKEUPS, 1);
			continue;
		}
		__set_current_state(TASK_RUNNING);
		if (READ_ONCE(h->state) != VBUS_HOST_STATE_RUNNING) {
			polling = false;
			continue;	/* faulted: sleep until detach */
		}
		work = false;
		more = false;
		if (vbus_host_pass(h, &work, &more)) {
			polling = false;
			continue;
		}
		if (polling) {
			vbus_host_inc(h, VBUS_HOST_C_POLLS, 1);
			if (work)
				vbus_host_inc(h, VBUS_HOST_C_POLL_HITS, 1);
		}
		if (work && h->busy_poll_us) {
			if (!polling) {
				/* The guest stops kicking while we look. */
				polling = true;
				vbus_shm_signal_disarm(txs);
				vbus_shm_signal_disarm(rxs);
			}
			deadline = ktime_add_us(ktime_get(), h->busy_poll_us);
		} else if (polling && ktime_after(ktime_get(), deadline)) {
			polling = false;
		}
		if (!polling) {
			/* Going to sleep: arm what wakes us, re-check. */
			bool again = vbus_shm_signal_arm(txs);

			if (!vbus_host_rx_avail(h))
				again = vbus_shm_signal_arm(rxs) || again;
			else
				vbus_shm_signal_disarm(rxs);	/* no kick needed */
			if (again || more ||
			    (test_bit(VBUS_HOST_TAP_READY, &h->flags) &&
			     vbus_host_rx_avail(h)))
				set_bit(VBUS_HOST_KICK, &h->flags);
		}
		cond_resched();
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

static void vbus_host_kick(struct vbus_host_dev *h)
{
	set_bit(VBUS_HOST_KICK, &h->flags);
	wake_up_process(h->worker);
}

/* Wait queue callback of the doorbell eventfd (its wqh lock is held). */
static int vbus_host_doorbell_wake(wait_queue_entry_t *wait, unsigned int mode,
				   int sync, void *key)
{
	struct vbus_host_poll *p = container_of(wait, struct vbus_host_poll, wait);
	struct vbus_host_dev *h = p->h;
	u64 cnt = 0;

	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	/* Consume the count (we are called under ctx->wqh.lock). */
	eventfd_ctx_do_read(h->doorbell, &cnt);
	atomic64_add(cnt, &h->doorbell_count);
	vbus_host_kick(h);
	return 0;
}

/* Wait queue callback of the TAP's socket. */
static int vbus_host_tap_wake(wait_queue_entry_t *wait, unsigned int mode,
			      int sync, void *key)
{
	struct vbus_host_poll *p = container_of(wait, struct vbus_host_poll, wait);
	__poll_t mask = key_to_poll(key);

	if (mask && !(mask & (EPOLLIN | EPOLLRDNORM)))
		return 0;
	set_bit(VBUS_HOST_TAP_READY, &p->h->flags);
	vbus_host_kick(p->h);
	return 0;
}

static void vbus_host_poll_queue(struct file *file, wait_queue_head_t *wqh,
				 poll_table *pt)
{
	struct vbus_host_poll *p = container_of(pt, struct vbus_host_poll, table);

	p->wqh = wqh;
	add_wait_queue(wqh, &p->wait);
}

/* Starts watching @file; returns its current mask. */
static __poll_t vbus_host_poll_start(struct vbus_host_dev *h,
				     struct vbus_host_poll *p,
				     struct file *file,
				     wait_queue_func_t fn)
{
	p->h = h;
	p->wqh = NULL;
	init_waitqueue_func_entry(&p->wait, fn);
	init_poll_funcptr(&p->table, vbus_host_poll_queue);
	return vfs_poll(file, &p->table);
}

static void vbus_host_poll_stop(struct vbus_host_poll *p)
{
	if (p->wqh) {
		remove_wait_queue(p->wqh, &p->wait);
		p->wqh = NULL;
	}
}

/* --- attach / detach ------------------------------------------------------ */

static bool vbus_host_range_ok(u64 off, u64 len, u64 size)
{
	return off <= size && len <= size - off;
}

/* The rules of QueueView::create() on the caller's copy of @qd. */
static int vbus_host_check_queue(const struct vbus_queue_desc *qd,
				 u64 area_size)
{
	struct { u64 off, len; } r[5];
	u32 num = le32_to_cpu(qd->num_entries);
	u32 buf = le32_to_cpu(qd->buf_size);
	int i, j;

	if (!num || num > VBUS_HOST_MAX_ENTRIES || (num & (num - 1)))
		return -EINVAL;
	if (!buf || buf > VBUS_HOST_MAX_BUF)
		return -EINVAL;
	if ((u64)le32_to_cpu(qd->pool_size) != (u64)num * buf)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(qd->reserved); i++)
		if (qd->reserved[i])
			return -EINVAL;
	r[0].off = le32_to_cpu(qd->submit_offset);
	r[0].len = (u64)num * sizeof(struct vbus_ring_desc);
	r[1].off = le32_to_cpu(qd->used_offset);
	r[1].len = (u64)num * sizeof(struct vbus_ring_used);
	r[2].off = le32_to_cpu(qd->to_host_offset);
	r[2].len = sizeof(struct vbus_shm_signal);
	r[3].off = le32_to_cpu(qd->to_guest_offset);
	r[3].len = sizeof(struct vbus_shm_signal);
	r[4].off = le32_to_cpu(qd->pool_offset);
	r[4].len = le32_to_cpu(qd->pool_size);
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		if (!IS_ALIGNED(r[i].off, VBUS_CACHELINE) ||
		    !vbus_host_range_ok(r[i].off, r[i].len, area_size))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (r[i].off < r[j].off + r[j].len &&
			    r[j].off < r[i].off + r[i].len)
				return -EINVAL;
	}
	return 0;
}

static int vbus_host_check_attach(const struct vbus_host_attach *a)
{
	int i, ret;

	if (a->api_version != VBUS_HOST_API_VERSION)
		return -EPROTONOSUPPORT;
	for (i = 0; i < ARRAY_SIZE(a->reserved); i++)
		if (a->reserved[i])
			return -EINVAL;
	if (!a->tx_signal_batch || a->busy_poll_us > VBUS_HOST_MAX_POLL_US)
		return -EINVAL;
	if ((a->link & ~VBUS_HOST_LINK_ACTIVE) ||
	    (a->features & ~VBUS_HOST_KNOWN_FEATURES))
		return -EINVAL;
	if (!a->region_size || a->region_size > VBUS_HOST_MAX_REGION ||
	    !PAGE_ALIGNED(a->region_size))
		return -EINVAL;
	if (!a->area_size || !IS_ALIGNED(a->area_offset, VBUS_CACHELINE) ||
	    !vbus_host_range_ok(a->area_offset, a->area_size, a->region_size))
		return -EINVAL;
	for (i = 0; i < VBUS_HOST_NUM_QUEUES; i++) {
		ret = vbus_host_check_queue(&a->queues[i], a->area_size);
		if (ret)
			return ret;
	}
	return 0;
}

static void vbus_host_unmap(struct vbus_host_dev *h)
{
	unsigned long i;

	if (h->map)
		vunmap(h->map);
	for (i = 0; i < h->npages; i++) {
		/* We wrote through the kernel mapping: keep the data. */
		set_page_dirty_lock(h->pages[i]);
		put_page(h->pages[i]);
	}
	kvfree(h->pages);
	h->map = NULL;
	h->area = NULL;
	h->pages = NULL;
	h->npages = 0;
}

/* Pins and maps the region pages that cover the device area. */
static int vbus_host_map(struct vbus_host_dev *h,
			 const struct vbus_host_attach *a)
{
	pgoff_t first = a->area_offset >> PAGE_SHIFT;
	pgoff_t last = (a->area_offset + a->area_size - 1) >> PAGE_SHIFT;
	struct address_space *mapping;
	struct file *file;
	struct page *page;
	int ret = 0;

	file = fget(a->region_fd);
	if (!file)
		return -EBADF;
	/* memfd (shmem) only: we rely on its page cache pages */
	if (!shmem_file(file) ||
	    i_size_read(file_inode(file)) < (loff_t)a->region_size) {
		ret = -EINVAL;
		goto out;
	}
	mapping = file->f_mapping;
	h->pages = kvcalloc(last - first + 1, sizeof(*h->pages), GFP_KERNEL);
	if (!h->pages) {
		ret = -ENOMEM;
		goto out;
	}
	for (; h->npages < last - first + 1; h->npages++) {
		page = shmem_read_mapping_page_gfp(mapping, first + h->npages,
						   mapping_gfp_mask(mapping));
		if (IS_ERR(page)) {
			ret = PTR_ERR(page);
			goto out;
		}
		h->pages[h->npages] = page;
	}
	h->map = vmap(h->pages, h->npages, VM_MAP, PAGE_KERNEL);
	if (!h->map) {
		ret = -ENOMEM;
		goto out;
	}
	h->area = (u8 *)h->map + offset_in_page(a->area_offset);
out:
	if (ret)
		vbus_host_unmap(h);
	fput(file);
	return ret;
}

static void vbus_host_queue_setup(struct vbus_host_dev *h, u32 qi,
				  const struct vbus_queue_desc *qd)
{
	struct vbus_host_queue *q = &h->q[qi];

	q->num = le32_to_cpu(qd->num_entries);
	q->buf_size = le32_to_cpu(qd->buf_size);
	q->submit = (void *)(h->area + le32_to_cpu(qd->submit_offset));
	q->used = (void *)(h->area + le32_to_cpu(qd->used_offset));
	q->to_host = (void *)(h->area + le32_to_cpu(qd->to_host_offset));
	q->to_guest = (void *)(h->area + le32_to_cpu(qd->to_guest_offset));
	q->pool = h->area + le32_to_cpu(qd->pool_offset);
	q->next_submit = 0;
	q->next_used = 0;
	q->lap = 0;
	q->chain_len = 0;
	if (qi == VBUS_HOST_RX_QUEUE) {
		q->max_chain = 1;	/* rx buffers are single entries */
	} else {
		q->max_chain = DIV_ROUND_UP(VBUS_HOST_MAX_CHAIN_BYTES,
					    q->buf_size);
		q->max_chain = min(q->max_chain, q->num);
	}
}

/* Releases what attach took; safe on a partly attached @h. */
static void vbus_host_release_all(struct vbus_host_dev *h)
{
	int i;

	vbus_host_poll_stop(&h->doorbell_poll);
	vbus_host_poll_stop(&h->tap_poll);
	/* No callback can run now: the worker is ours alone to stop. */
	if (h->worker) {
		kthread_stop(h->worker);
		put_task_struct(h->worker);
		h->worker = NULL;
	}
	for (i = 0; i < VBUS_HOST_NUM_QUEUES; i++) {
		if (h->q[i].notify)
			eventfd_ctx_put(h->q[i].notify);
		kvfree(h->q[i].descs);
		memset(&h->q[i], 0, sizeof(h->q[i]));
	}
	if (h->doorbell)
		eventfd_ctx_put(h->doorbell);
	h->doorbell = NULL;
	if (h->doorbell_file)
		fput(h->doorbell_file);
	h->doorbell_file = NULL;
	h->sock = NULL;
	if (h->tap_file)
		fput(h->tap_file);
	h->tap_file = NULL;
	kvfree(h->tx_iov);
	h->tx_iov = NULL;
	kvfree(h->frame);
	h->frame = NULL;
	vbus_host_unmap(h);
	h->flags = 0;
	WRITE_ONCE(h->state, VBUS_HOST_STATE_DETACHED);
}

static int vbus_host_get_fds(struct vbus_host_dev *h,
			     const struct vbus_host_attach *a)
{
	struct eventfd_ctx *ctx;
	struct socket *sock;
	int i;

	h->doorbell_file = fget(a->doorbell_fd);
	if (!h->doorbell_file)
		return -EBADF;
	ctx = eventfd_ctx_fileget(h->doorbell_file);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	h->doorbell = ctx;
	for (i = 0; i < VBUS_HOST_NUM_QUEUES; i++) {
		ctx = eventfd_ctx_fdget(a->notify_fd[i]);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
		h->q[i].notify = ctx;
	}
	h->tap_file = fget(a->tap_fd);
	if (!h->tap_file)
		return -EBADF;
	sock = tun_get_socket(h->tap_file);
	if (IS_ERR(sock))
		return PTR_ERR(sock);
	h->sock = sock;
	return 0;
}

static int vbus_host_attach(struct vbus_host_dev *h,
			    const struct vbus_host_attach *a)
{
	struct task_struct *t;
	int i, ret;

	ret = vbus_host_check_attach(a);
	if (ret)
		return ret;
	ret = vbus_host_map(h, a);
	if (ret)
		goto fail;
	for (i = 0; i < VBUS_HOST_NUM_QUEUES; i++) {
		vbus_host_queue_setup(h, i, &a->queues[i]);
		h->q[i].descs = kvcalloc(h->q[i].num, sizeof(*h->q[i].descs),
					 GFP_KERNEL);
		if (!h->q[i].descs) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	h->tx_iov = kvcalloc(h->q[VBUS_HOST_TX_QUEUE].max_chain + 1,
			     sizeof(*h->tx_iov), GFP_KERNEL);
	h->frame = kvmalloc(VBUS_HOST_FRAME_BUF, GFP_KERNEL);
	if (!h->tx_iov || !h->frame) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = vbus_host_get_fds(h, a);
	if (ret)
		goto fail;

	h->dev_id = a->dev_id;
	h->features = a->features;
	h->link = a->link;
	h->busy_poll_us = a->busy_poll_us;
	h->tx_signal_batch = a->tx_signal_batch;
	h->tx_since_signal = 0;
	h->tx_chain_bytes = 0;
	h->fault = VBUS_HOST_FAULT_NONE;
	atomic64_set(&h->doorbell_count, 0);
	/* Start with a pass: work (and frames) may be waiting. */
	h->flags = BIT(VBUS_HOST_KICK) | BIT(VBUS_HOST_TAP_READY);
	WRITE_ONCE(h->state, VBUS_HOST_STATE_RUNNING);

	t = kthread_create(vbus_host_worker, h, "avm-vhost-%u", a->dev_id);
	if (IS_ERR(t)) {
		ret = PTR_ERR(t);
		goto fail;
	}
	get_task_struct(t);
	h->worker = t;
	/* The callbacks may wake the worker from here on. */
	vbus_host_poll_start(h, &h->doorbell_poll, h->doorbell_file,
			     vbus_host_doorbell_wake);
	vbus_host_poll_start(h, &h->tap_poll, h->tap_file, vbus_host_tap_wake);
	wake_up_process(t);
	h->attached = true;
	return 0;

fail:
	vbus_host_release_all(h);
	return ret;
}

static void vbus_host_detach(struct vbus_host_dev *h)
{
	if (!h->attached)
		return;
	vbus_host_release_all(h);
	h->attached = false;
}

/* --- file operations ------------------------------------------------------ */

static long vbus_host_get_stats(struct vbus_host_dev *h, void __user *argp)
{
	struct vbus_host_stats s = {};
	unsigned int start;
	int i;

	do {
		start = u64_stats_fetch_begin(&h->syncp);
		for (i = 0; i < VBUS_HOST_NR_CTRS; i++)
			*(u64 *)((u8 *)&s + vbus_host_ctr_off[i]) =
				u64_stats_read(&h->ctr[i]);
	} while (u64_stats_fetch_retry(&h->syncp, start));
	/* Acquire: pairs with vbus_host_set_fault()'s release. */
	s.state = smp_load_acquire(&h->state);
	if (s.state == VBUS_HOST_STATE_FAULTED) {
		s.fault = h->fault;
		s.fault_queue = h->fault_queue;
		s.fault_index = h->fault_index;
	}
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

static long vbus_host_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct vbus_host_dev *h = file->private_data;
	void __user *argp = (void __user *)arg;
	struct vbus_host_attach a;
	struct vbus_host_config c;
	long ret;

	mutex_lock(&h->lock);
	switch (cmd) {
	case VBUS_HOST_ATTACH:
		ret = -EFAULT;
		if (copy_from_user(&a, argp, sizeof(a)))
			break;
		ret = h->attached ? -EBUSY : vbus_host_attach(h, &a);
		break;
	case VBUS_HOST_DETACH:
		ret = h->attached ? 0 : -ENOTCONN;
		vbus_host_detach(h);
		break;
	case VBUS_HOST_CONFIGURE:
		ret = -EFAULT;
		if (copy_from_user(&c, argp, sizeof(c)))
			break;
		ret = -EINVAL;
		if (c.reserved || (c.link & ~VBUS_HOST_LINK_ACTIVE) ||
		    (c.features & ~VBUS_HOST_KNOWN_FEATURES))
			break;
		ret = -ENOTCONN;
		if (!h->attached)
			break;
		/* Single words the worker reads per packet. */
		WRITE_ONCE(h->features, c.features);
		WRITE_ONCE(h->link, c.link);
		vbus_host_kick(h);
		ret = 0;
		break;
	case VBUS_HOST_GET_STATS:
		ret = vbus_host_get_stats(h, argp);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	mutex_unlock(&h->lock);
	return ret;
}

static __poll_t vbus_host_fpoll(struct file *file, poll_table *wait)
{
	struct vbus_host_dev *h = file->private_data;

	poll_wait(file, &h->fault_wq, wait);
	/* Acquire: pairs with vbus_host_set_fault()'s release. */
	if (smp_load_acquire(&h->state) == VBUS_HOST_STATE_FAULTED)
		return EPOLLIN | EPOLLRDNORM | EPOLLPRI;
	return 0;
}

static int vbus_host_open(struct inode *inode, struct file *file)
{
	struct vbus_host_dev *h;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	mutex_init(&h->lock);
	init_waitqueue_head(&h->fault_wq);
	u64_stats_init(&h->syncp);
	file->private_data = h;
	return stream_open(inode, file);
}

static int vbus_host_release(struct inode *inode, struct file *file)
{
	struct vbus_host_dev *h = file->private_data;

	mutex_lock(&h->lock);
	vbus_host_detach(h);
	mutex_unlock(&h->lock);
	mutex_destroy(&h->lock);
	kfree(h);
	return 0;
}

static const struct file_operations vbus_host_fops = {
	.owner = THIS_MODULE,
	.open = vbus_host_open,
	.release = vbus_host_release,
	.unlocked_ioctl = vbus_host_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = vbus_host_fpoll,
	.llseek = no_llseek,
};

/*
 * A fixed minor (devices.txt, major 10: 243-254 "Reserved for local use";
 * 240-242 went to userio, vhost-vsock and rfkill): with it and the aliases
 * below, kmod static-nodes creates /dev/alacrityvm-host at boot and opening
 * it loads this module on demand (request_module("char-major-10-250")).
 */
#define VBUS_HOST_MINOR		250

static struct miscdevice vbus_host_misc = {
	.minor = VBUS_HOST_MINOR,
	.name = VBUS_HOST_DEVICE_NAME,
	.fops = &vbus_host_fops,
	.mode = 0600,
};

static int __init vbus_host_init(void)
{
	BUILD_BUG_ON(sizeof(struct vbus_host_attach) != 240);
	BUILD_BUG_ON(sizeof(struct vbus_host_stats) != 224);
	BUILD_BUG_ON(sizeof(struct vbus_host_config) != 16);
	return misc_register(&vbus_host_misc);
}

static void __exit vbus_host_exit(void)
{
	misc_deregister(&vbus_host_misc);
}

module_init(vbus_host_init);
module_exit(vbus_host_exit);

MODULE_DESCRIPTION("AlacrityVM in-kernel venet backend");
MODULE_AUTHOR("AlacrityVM");
MODULE_LICENSE("GPL");
MODULE_ALIAS_MISCDEV(VBUS_HOST_MINOR);
MODULE_ALIAS("devname:" VBUS_HOST_DEVICE_NAME);
