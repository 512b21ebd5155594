// SPDX-License-Identifier: GPL-2.0
/*
 * AlacrityVM vbus_enet: the virtual ethernet (venet) class driver on vbus.
 *
 * One queue pair: queue 0 receives, queue 1 transmits (<linux/vbus_venet.h>).
 * Packets are copied into and out of the queues' buffer pools inside the
 * shared region (the host cannot see the rest of guest memory), each
 * starting with a struct vbus_venet_hdr, which has the layout of
 * virtio_net_hdr_mrg_rxbuf so the kernel's virtio_net_hdr helpers build and
 * apply it.
 *
 * Notifications follow shm-signal: the guest rings the doorbell only when
 * the host's to_host signal asks for it; NAPI disarms the rx to_guest signal
 * while it polls and re-arms it with a final re-check; the tx to_guest
 * signal is armed only while the tx queue is stopped on a full ring.
 *
 * The host is not trusted: used entries are copied and checked; a broken
 * entry is counted, logged (rate-limited) and answered with a bridge reset.
 */
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/if_vlan.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/u64_stats_sync.h>
#include <linux/virtio_net.h>
#include <linux/vbus_venet.h>

#include "vbus_bus.h"

#define VBUS_ENET_RXQ		0	/* queue 2k: receive */
#define VBUS_ENET_TXQ		1	/* queue 2k + 1: transmit */
#define VBUS_ENET_HDR_LEN	sizeof(struct vbus_venet_hdr)
#define VBUS_ENET_MIN_BUF	128	/* smallest pool buffer we accept */
#define VBUS_ENET_MIN_MTU	68
#define VBUS_ENET_RX_LINEAR	256	/* bytes copied to the linear part of a large skb */
#define VBUS_ENET_RX_SMALL	1536	/* packets up to this size are all linear */
/* Largest frame on the wire side of the header, VLAN tag included */
#define VBUS_ENET_MAX_FRAME	(VENET_MAX_PACKET + VLAN_ETH_HLEN)

/* Features we ask the host for */
#define VBUS_ENET_WANTED	(VENET_F_CSUM | VENET_F_GUEST_CSUM | \
				 VENET_F_HOST_TSO4 | VENET_F_HOST_TSO6 | \
				 VENET_F_GUEST_TSO4 | VENET_F_GUEST_TSO6 | \
				 VENET_F_SG | VENET_F_MRG_RXBUF)

/* The header is virtio-net's, so the kernel's helpers can build it */
static_assert(sizeof(struct vbus_venet_hdr) ==
	      sizeof(struct virtio_net_hdr_mrg_rxbuf));
static_assert(offsetof(struct vbus_venet_hdr, csum_offset) ==
	      offsetof(struct virtio_net_hdr, csum_offset));
static_assert(offsetof(struct vbus_venet_hdr, num_buffers) ==
	      offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers));
static_assert(VENET_HDR_F_NEEDS_CSUM == VIRTIO_NET_HDR_F_NEEDS_CSUM);
static_assert(VENET_HDR_F_DATA_VALID == VIRTIO_NET_HDR_F_DATA_VALID);
static_assert(VENET_HDR_GSO_TCPV4 == VIRTIO_NET_HDR_GSO_TCPV4);
static_assert(VENET_HDR_GSO_TCPV6 == VIRTIO_NET_HDR_GSO_TCPV6);
static_assert(VENET_HDR_GSO_UDP == VIRTIO_NET_HDR_GSO_UDP);
static_assert(VENET_HDR_GSO_ECN == VIRTIO_NET_HDR_GSO_ECN);

/**
 * struct vbus_enet_rq_stats - receive counters, written only by NAPI (and
 * by open before NAPI is enabled)
 * @syncp: u64_stats_sync of the group
 * @packets: packets passed to the stack
 * @bytes: their bytes (ethernet header included)
 * @drops: packets dropped for lack of memory
 * @errors: packets the host marked as errors or sent malformed
 * @kicks: doorbells rung after refilling
 * @kicks_suppressed: refills the host did not need to be told about
 * @polls: NAPI polls
 */
struct vbus_enet_rq_stats {
	struct u64_stats_sync syncp;
	u64_stats_t packets;
	u64_stats_t bytes;
	u64_stats_t drops;
	u64_stats_t errors;
	u64_stats_t kicks;
	u64_stats_t kicks_suppressed;
	u64_stats_t polls;
};

/**
 * struct vbus_enet_sq_stats - transmit counters, written under the tx
 * queue lock (xmit, and the NAPI completion pass)
 * @syncp: u64_stats_sync of the group
 * @packets: packets handed to the host
 * @bytes: their bytes
 * @drops: packets dropped (no header, too large, device broken)
 * @errors: entries the host rejected (VBUS_USED_F_ERROR)
 * @kicks: doorbells rung
 * @kicks_suppressed: doorbells the shm-signal said were not needed
 * @ring_full: times the queue stopped on a full ring
 * @wakes: times the queue was woken after a stop
 */
struct vbus_enet_sq_stats {
	struct u64_stats_sync syncp;
	u64_stats_t packets;
	u64_stats_t bytes;
	u64_stats_t drops;
	u64_stats_t errors;
	u64_stats_t kicks;
	u64_stats_t kicks_suppressed;
	u64_stats_t ring_full;
	u64_stats_t wakes;
};

/**
 * struct vbus_enet_ev_stats - signal events, written only by the queue
 * handlers (serialized by the bridge's interrupt lock)
 * @syncp: u64_stats_sync of the group
 * @rx_events: VBUS_EV_SIGNAL events for the receive queue
 * @tx_events: VBUS_EV_SIGNAL events for the transmit queue
 */
struct vbus_enet_ev_stats {
	struct u64_stats_sync syncp;
	u64_stats_t rx_events;
	u64_stats_t tx_events;
};

/**
 * struct vbus_enet_stat_desc - one ethtool counter
 * @name: ethtool string
 * @offset: offset of the u64_stats_t in its group's struct
 */
struct vbus_enet_stat_desc {
	char name[ETH_GSTRING_LEN];
	size_t offset;
};

#define VBUS_ENET_RQ_STAT(n, f) { n, offsetof(struct vbus_enet_rq_stats, f) }
#define VBUS_ENET_SQ_STAT(n, f) { n, offsetof(struct vbus_enet_sq_stats, f) }
#define VBUS_ENET_EV_STAT(n, f) { n, offsetof(struct vbus_enet_ev_stats, f) }

static const struct vbus_enet_stat_desc vbus_enet_rq_stats_desc[] = {
	VBUS_ENET_RQ_STAT("rx_packets", packets),
	VBUS_ENET_RQ_STAT("rx_bytes", bytes),
	VBUS_ENET_RQ_STAT("rx_drops", drops),
	VBUS_ENET_RQ_STAT("rx_errors", errors),
	VBUS_ENET_RQ_STAT("rx_doorbells", kicks),
	VBUS_ENET_RQ_STAT("rx_doorbells_suppressed", kicks_suppressed),
	VBUS_ENET_RQ_STAT("rx_napi_polls", polls),
};

static const struct vbus_enet_stat_desc vbus_enet_sq_stats_desc[] = {
	VBUS_ENET_SQ_STAT("tx_packets", packets),
	VBUS_ENET_SQ_STAT("tx_bytes", bytes),
	VBUS_ENET_SQ_STAT("tx_drops", drops),
	VBUS_ENET_SQ_STAT("tx_errors", errors),
	VBUS_ENET_SQ_STAT("tx_doorbells", kicks),
	VBUS_ENET_SQ_STAT("tx_doorbells_suppressed", kicks_suppressed),
	VBUS_ENET_SQ_STAT("tx_ring_full", ring_full),
	VBUS_ENET_SQ_STAT("tx_wakes", wakes),
};

static const struct vbus_enet_stat_desc vbus_enet_ev_stats_desc[] = {
	VBUS_ENET_EV_STAT("rx_events", rx_events),
	VBUS_ENET_EV_STAT("tx_events", tx_events),
};

#define VBUS_ENET_RQ_NSTATS	ARRAY_SIZE(vbus_enet_rq_stats_desc)
#define VBUS_ENET_SQ_NSTATS	ARRAY_SIZE(vbus_enet_sq_stats_desc)
#define VBUS_ENET_EV_NSTATS	ARRAY_SIZE(vbus_enet_ev_stats_desc)
#define VBUS_ENET_NSTATS	(VBUS_ENET_RQ_NSTATS + VBUS_ENET_SQ_NSTATS + \
				 VBUS_ENET_EV_NSTATS)

/**
 * struct vbus_enet - one venet device
 * @ndev: the net device
 * @vdev: the vbus device
 * @napi: receive and transmit-completion polling
 * @rx: guest endpoint of the receive queue
 * @tx: guest endpoint of the transmit queue (under the tx queue lock)
 * @features: VENET_F_* the host granted
 * @tx_max_slots: slots the largest allowed packet needs; the queue stops
 *	when fewer are free
 * @rx_max_chain: most used entries one received packet may span
 * @broken: the host broke the protocol; the data path stays stopped until
 *	the bridge reset removes the device
 * @rq_stats: receive counters
 * @sq_stats: transmit counters
 * @ev_stats: signal event counters
 */
struct vbus_enet {
	struct net_device *ndev;
	struct vbus_device *vdev;
	struct napi_struct napi;
	struct vbus_ring rx;
	struct vbus_ring tx;
	u64 features;
	u32 tx_max_slots;
	u32 rx_max_chain;
	bool broken;
	struct vbus_enet_rq_stats rq_stats;
	struct vbus_enet_sq_stats sq_stats;
	struct vbus_enet_ev_stats ev_stats;
};

/* --- helpers ------------------------------------------------------------ */

static void vbus_enet_stat_inc(struct u64_stats_sync *syncp, u64_stats_t *s)
{
	u64_stats_update_begin(syncp);
	u64_stats_inc(s);
	u64_stats_update_end(syncp);
}

/* The host broke the protocol: stop the data path, reset the bridge. */
static void vbus_enet_fault(struct vbus_enet *e, const char *why)
{
	WRITE_ONCE(e->broken, true);
	vbus_dev_report_fault(e->vdev, why);
}

/* Tell the host about new submissions if its shm-signal asks for it. */
static void vbus_enet_notify(struct vbus_enet *e, struct vbus_ring *ring,
			     struct u64_stats_sync *syncp, u64_stats_t *kicks,
			     u64_stats_t *suppressed)
{
	if (vbus_shm_signal_notify(ring->to_host)) {
		vbus_dev_kick(e->vdev);
		vbus_enet_stat_inc(syncp, kicks);
	} else {
		vbus_enet_stat_inc(syncp, suppressed);
	}
}

/* --- receive ------------------------------------------------------------ */

/* Give every free rx slot to the host as an empty, whole pool buffer. */
static void vbus_enet_rx_refill(struct vbus_enet *e)
{
	struct vbus_ring *rx = &e->rx;
	u32 i, n = vbus_ring_free_slots(rx);

	if (!n || READ_ONCE(e->broken))
		return;
	for (i = 0; i < n; i++)
		vbus_ring_set(rx, i, 0, rx->buf_size);
	vbus_ring_commit(rx, n);
	vbus_enet_notify(e, rx, &e->rq_stats.syncp, &e->rq_stats.kicks,
			 &e->rq_stats.kicks_suppressed);
}

/**
 * struct vbus_enet_rx_build - a received packet being copied into an skb
 * @skb: the skb
 * @linear: bytes that go to the linear part
 * @page: page being filled for the next frag, or NULL
 * @page_used: bytes used in @page
 */
struct vbus_enet_rx_build {
	struct sk_buff *skb;
	u32 linear;
	struct page *page;
	u32 page_used;
};

static void vbus_enet_rx_flush_page(struct vbus_enet_rx_build *rb)
{
	struct sk_buff *skb = rb->skb;

	if (!rb->page)
		return;
	skb_add_rx_frag(skb, skb_shinfo(skb)->nr_frags, rb->page, 0,
			rb->page_used, PAGE_SIZE);
	rb->page = NULL;
	rb->page_used = 0;
}

/* Append @len bytes from a pool buffer to the skb.  Return: 0, -ENOMEM. */
static int vbus_enet_rx_append(struct vbus_enet_rx_build *rb, const u8 *src,
			       u32 len)
{
	struct sk_buff *skb = rb->skb;
	u32 n;

	if (skb->len < rb->linear) {
		n = min(len, rb->linear - skb->len);
		skb_put_data(skb, src, n);
		src += n;
		len -= n;
	}
	while (len) {
		if (!rb->page) {
			if (skb_shinfo(skb)->nr_frags >= MAX_SKB_FRAGS)
				return -ENOMEM;
			rb->page = alloc_page(GFP_ATOMIC | __GFP_NOWARN);
			if (!rb->page)
				return -ENOMEM;
		}
		n = min_t(u32, len, PAGE_SIZE - rb->page_used);
		memcpy(page_address(rb->page) + rb->page_used, src, n);
		rb->page_used += n;
		src += n;
		len -= n;
		if (rb->page_used == PAGE_SIZE)
			vbus_enet_rx_flush_page(rb);
	}
	return 0;
}

/* Check the header of a received packet against what we negotiated. */
static bool vbus_enet_rx_hdr_ok(struct vbus_enet *e,
				const struct vbus_venet_hdr *hdr)
{
	u8 gso = hdr->gso_type & ~VENET_HDR_GSO_ECN;

	if ((hdr->flags & VENET_HDR_F_NEEDS_CSUM) &&
	    !(e->features & VENET_F_GUEST_CSUM))
		return false;
	if ((hdr->gso_type & VENET_HDR_GSO_ECN) &&
	    !(e->features & VENET_F_GUEST_ECN))
		return false;
	switch (gso) {
	case VENET_HDR_GSO_NONE:
		return true;
	case VENET_HDR_GSO_TCPV4:
		return e->features & VENET_F_GUEST_TSO4;
	case VENET_HDR_GSO_TCPV6:
		return e->features & VENET_F_GUEST_TSO6;
	default:
		return false;
	}
}

/*
 * Copy the packet of used entries [0, n) (@total bytes, header included)
 * into an skb and hand it to the stack.  Malformed packet contents are
 * dropped and counted; they do not reset the bridge.
 */
static void vbus_enet_rx_deliver(struct vbus_enet *e, u32 n, u32 total)
{
	struct vbus_enet_rx_build rb = { };
	struct vbus_ring *rx = &e->rx;
	struct vbus_venet_hdr hdr;
	struct virtio_net_hdr vh;
	struct vbus_ring_used u;
	u32 i, frame = total - VBUS_ENET_HDR_LEN;
	struct sk_buff *skb;

	memcpy(&hdr, vbus_ring_buf(rx, rx->tail & rx->mask), sizeof(hdr));
	if (!vbus_enet_rx_hdr_ok(e, &hdr) ||
	    ((e->features & VENET_F_MRG_RXBUF) &&
	     le16_to_cpu(hdr.num_buffers) != n))
		goto err;

	rb.linear = frame <= VBUS_ENET_RX_SMALL ? frame : VBUS_ENET_RX_LINEAR;
	skb = napi_alloc_skb(&e->napi, rb.linear);
	if (!skb)
		goto drop;
	rb.skb = skb;
	for (i = 0; i < n; i++) {
		u32 slot = (rx->tail + i) & rx->mask;
		u32 off = i ? 0 : VBUS_ENET_HDR_LEN;
		u32 len;

		/* Lengths were checked by the caller on the same copies; a
		 * second copy could differ, so clamp again.
		 */
		if (vbus_ring_peek_used(rx, i, &u) != 1)
			goto free;
		len = min(le32_to_cpu(u.len), rx->buf_size);
		if (len < off)
			goto free;
		if (vbus_enet_rx_append(&rb, vbus_ring_buf(rx, slot) + off,
					len - off))
			goto free_drop;
	}
	vbus_enet_rx_flush_page(&rb);
	if (skb->len < ETH_HLEN)
		goto free;

	if ((hdr.flags & VENET_HDR_F_DATA_VALID) &&
	    (e->features & VENET_F_GUEST_CSUM))
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	hdr.flags &= ~VENET_HDR_F_DATA_VALID;
	memcpy(&vh, &hdr, sizeof(vh));
	if (virtio_net_hdr_to_skb(skb, &vh, true))
		goto free;
	skb_record_rx_queue(skb, 0);
	skb->protocol = eth_type_trans(skb, e->ndev);

	u64_stats_update_begin(&e->rq_stats.syncp);
	u64_stats_inc(&e->rq_stats.packets);
	u64_stats_add(&e->rq_stats.bytes, frame);
	u64_stats_update_end(&e->rq_stats.syncp);
	napi_gro_receive(&e->napi, skb);
	return;

free_drop:
	if (rb.page)
		__free_page(rb.page);
	dev_kfree_skb_any(skb);
drop:
	vbus_enet_stat_inc(&e->rq_stats.syncp, &e->rq_stats.drops);
	return;
free:
	if (rb.page)
		__free_page(rb.page);
	dev_kfree_skb_any(skb);
err:
	vbus_enet_stat_inc(&e->rq_stats.syncp, &e->rq_stats.errors);
	net_dbg_ratelimited("%s: malformed rx packet dropped\n", e->ndev->name);
}

/*
 * Take one packet (a chain of used entries) off the rx ring.
 * Return: 1 one packet consumed, 0 nothing complete yet, -EPROTO host fault.
 */
static int vbus_enet_rx_one(struct vbus_enet *e)
{
	struct vbus_ring *rx = &e->rx;
	struct vbus_ring_used u;
	bool error = false;
	u32 n = 0, total = 0;
	int r;

	do {
		if (n >= e->rx_max_chain) {
			vbus_enet_fault(e, "rx chain too long");
			return -EPROTO;
		}
		r = vbus_ring_peek_used(rx, n, &u);
		if (r < 0) {
			vbus_enet_fault(e, "corrupt rx used entry");
			return r;
		}
		if (!r)
			return 0;	/* rest of the chain not published yet */
		if (le32_to_cpu(u.len) > rx->buf_size) {
			vbus_enet_fault(e, "rx used length beyond its buffer");
			return -EPROTO;
		}
		if (le16_to_cpu(u.flags) & VBUS_USED_F_ERROR)
			error = true;
		total += le32_to_cpu(u.len);
		n++;
	} while (le16_to_cpu(u.flags) & VBUS_USED_F_NEXT);

	if (n > 1 && !(e->features & VENET_F_MRG_RXBUF)) {
		vbus_enet_fault(e, "rx chain without MRG_RXBUF");
		return -EPROTO;
	}
	if (error || total < VBUS_ENET_HDR_LEN + ETH_HLEN ||
	    total > VBUS_ENET_HDR_LEN + VBUS_ENET_MAX_FRAME)
		vbus_enet_stat_inc(&e->rq_stats.syncp, &e->rq_stats.errors);
	else
		vbus_enet_rx_deliver(e, n, total);
	vbus_ring_consume(rx, n);
	return 1;
}

/* --- transmit completion ------------------------------------------------ */

/* Caller holds the tx queue lock.  Take completed entries back. */
static void vbus_enet_tx_reclaim(struct vbus_enet *e)
{
	struct vbus_ring *tx = &e->tx;
	struct vbus_ring_used u;
	u32 n = 0, errors = 0;
	int r;

	while (vbus_ring_in_flight(tx) > n) {
		r = vbus_ring_peek_used(tx, n, &u);
		if (r < 0) {
			vbus_enet_fault(e, "corrupt tx used entry");
			break;
		}
		if (!r)
			break;
		if (le16_to_cpu(u.flags) & VBUS_USED_F_ERROR)
			errors++;
		n++;
	}
	vbus_ring_consume(tx, n);
	if (errors) {
		u64_stats_update_begin(&e->sq_stats.syncp);
		u64_stats_add(&e->sq_stats.errors, errors);
		u64_stats_update_end(&e->sq_stats.syncp);
		net_dbg_ratelimited("%s: host rejected %u tx entries\n",
				    e->ndev->name, errors);
	}
}

/* NAPI: reclaim tx slots and wake the queue if it stopped on a full ring. */
static void vbus_enet_tx_complete(struct vbus_enet *e)
{
	struct netdev_queue *txq = netdev_get_tx_queue(e->ndev, 0);

	__netif_tx_lock(txq, raw_smp_processor_id());
	vbus_enet_tx_reclaim(e);
	if (netif_tx_queue_stopped(txq) && !READ_ONCE(e->broken) &&
	    vbus_ring_free_slots(&e->tx) >= e->tx_max_slots) {
		vbus_shm_signal_disarm(e->tx.to_guest);
		netif_tx_wake_queue(txq);
		vbus_enet_stat_inc(&e->sq_stats.syncp, &e->sq_stats.wakes);
	}
	__netif_tx_unlock(txq);
}

/* --- NAPI and signal handlers ------------------------------------------- */

static int vbus_enet_poll(struct napi_struct *napi, int budget)
{
	struct vbus_enet *e = container_of(napi, struct vbus_enet, napi);
	struct vbus_shm_signal *sig = e->rx.to_guest;
	int done = 0;

	vbus_enet_stat_inc(&e->rq_stats.syncp, &e->rq_stats.polls);
	if (READ_ONCE(e->broken)) {
		napi_complete(napi);
		return 0;
	}
	/* Polling: the host sends no rx events meanwhile */
	vbus_shm_signal_disarm(sig);
	vbus_shm_signal_clear_dirty(sig);

	vbus_enet_tx_complete(e);
	while (done < budget && vbus_enet_rx_one(e) > 0)
		done++;
	vbus_enet_rx_refill(e);

	if (done < budget && napi_complete_done(napi, done) &&
	    !READ_ONCE(e->broken)) {
		/* Re-arm with the final re-check: work that arrived while
		 * the signal was disarmed sets dirty without an event.
		 */
		if (vbus_shm_signal_rearm(sig) && napi_schedule_prep(napi)) {
			vbus_shm_signal_disarm(sig);
			__napi_schedule(napi);
		}
	}
	return done;
}

static void vbus_enet_rx_signal(struct vbus_device *vdev, u32 queue,
				void *priv)
{
	struct vbus_enet *e = priv;

	vbus_enet_stat_inc(&e->ev_stats.syncp, &e->ev_stats.rx_events);
	vbus_shm_signal_disarm(e->rx.to_guest);
	napi_schedule(&e->napi);
}

static void vbus_enet_tx_signal(struct vbus_device *vdev, u32 queue,
				void *priv)
{
	struct vbus_enet *e = priv;

	vbus_enet_stat_inc(&e->ev_stats.syncp, &e->ev_stats.tx_events);
	vbus_shm_signal_disarm(e->tx.to_guest);
	napi_schedule(&e->napi);
}

/* --- transmit ----------------------------------------------------------- */

/* Copy header and skb into @nslots pool buffers and publish the chain. */
static int vbus_enet_tx_copy(struct vbus_enet *e, struct sk_buff *skb,
			     const struct vbus_venet_hdr *hdr, u32 nslots)
{
	struct vbus_ring *tx = &e->tx;
	u32 len = VBUS_ENET_HDR_LEN + skb->len;
	u32 i, pos = 0;

	for (i = 0; i < nslots; i++) {
		u8 *buf = vbus_ring_buf(tx, (tx->head + i) & tx->mask);
		u32 chunk = min(tx->buf_size, len - pos);
		u32 done = 0;

		if (pos < VBUS_ENET_HDR_LEN) {
			done = min_t(u32, VBUS_ENET_HDR_LEN - pos, chunk);
			memcpy(buf, (const u8 *)hdr + pos, done);
		}
		if (chunk > done &&
		    skb_copy_bits(skb, pos + done - VBUS_ENET_HDR_LEN,
				  buf + done, chunk - done))
			return -EFAULT;
		vbus_ring_set(tx, i, i + 1 < nslots ? VBUS_DESC_F_NEXT : 0,
			      chunk);
		pos += chunk;
	}
	vbus_ring_commit(tx, nslots);
	return 0;
}

/* Caller holds the tx lock.  Stop on a full ring, arm the completion signal. */
static void vbus_enet_tx_maybe_stop(struct vbus_enet *e,
				    struct netdev_queue *txq)
{
	if (vbus_ring_free_slots(&e->tx) >= e->tx_max_slots)
		return;
	netif_tx_stop_queue(txq);
	vbus_enet_stat_inc(&e->sq_stats.syncp, &e->sq_stats.ring_full);
	/* Arm, then re-check: completions that raced with the arming are
	 * either seen here or signalled by the host.
	 */
	vbus_shm_signal_rearm(e->tx.to_guest);
	vbus_enet_tx_reclaim(e);
	if (vbus_ring_free_slots(&e->tx) >= e->tx_max_slots &&
	    !READ_ONCE(e->broken)) {
		vbus_shm_signal_disarm(e->tx.to_guest);
		netif_tx_start_queue(txq);
	}
}

static netdev_tx_t vbus_enet_xmit(struct sk_buff *skb, struct net_device *ndev)
{
	struct vbus_enet *e = netdev_priv(ndev);
	struct netdev_queue *txq = netdev_get_tx_queue(ndev, 0);
	struct vbus_venet_hdr hdr = { };
	u32 nslots;

	if (READ_ONCE(e->broken))
		goto drop;
	vbus_enet_tx_reclaim(e);

	if (virtio_net_hdr_from_skb(skb, (struct virtio_net_hdr *)&hdr, true,
				    false, 0))
		goto drop;
	hdr.num_buffers = 0;
	nslots = DIV_ROUND_UP(VBUS_ENET_HDR_LEN + skb->len, e->tx.buf_size);
	if (nslots > e->tx_max_slots)
		goto drop;	/* larger than we advertised */
	if (nslots > vbus_ring_free_slots(&e->tx)) {
		/* cannot happen: the queue stops with tx_max_slots left */
		vbus_enet_tx_maybe_stop(e, txq);
		return NETDEV_TX_BUSY;
	}
	if (vbus_enet_tx_copy(e, skb, &hdr, nslots))
		goto drop;

	u64_stats_update_begin(&e->sq_stats.syncp);
	u64_stats_inc(&e->sq_stats.packets);
	u64_stats_add(&e->sq_stats.bytes, skb->len);
	u64_stats_update_end(&e->sq_stats.syncp);
	skb_tx_timestamp(skb);
	dev_consume_skb_any(skb);

	vbus_enet_tx_maybe_stop(e, txq);
	if (!netdev_xmit_more() || netif_xmit_stopped(txq))
		vbus_enet_notify(e, &e->tx, &e->sq_stats.syncp,
				 &e->sq_stats.kicks,
				 &e->sq_stats.kicks_suppressed);
	return NETDEV_TX_OK;

drop:
	vbus_enet_stat_inc(&e->sq_stats.syncp, &e->sq_stats.drops);
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

/* --- control ------------------------------------------------------------ */

static void vbus_enet_update_link(struct vbus_enet *e)
{
	struct vbus_venet_config cfg;

	if (vbus_dev_read_config(e->vdev, &cfg, sizeof(cfg)))
		return;
	if (le16_to_cpu(cfg.link) & VENET_LINK_UP)
		netif_carrier_on(e->ndev);
	else
		netif_carrier_off(e->ndev);
}

static int vbus_enet_set_link(struct vbus_enet *e, bool up)
{
	__le16 link = cpu_to_le16(up ? VENET_LINK_UP : 0);

	return vbus_dev_call(e->vdev, VENET_CALL_SET_LINK, &link, sizeof(link),
			     NULL, NULL);
}

static int vbus_enet_negotiate(struct vbus_enet *e, u64 wanted)
{
	__le64 req = cpu_to_le64(wanted), resp = 0;
	size_t resp_len = sizeof(resp);
	u64 got;
	int err;

	err = vbus_dev_call(e->vdev, VENET_CALL_NEGOTIATE, &req, sizeof(req),
			    &resp, &resp_len);
	if (err)
		return err;
	got = le64_to_cpu(resp);
	if (resp_len != sizeof(resp) || (got & ~wanted)) {
		dev_err(&e->vdev->dev,
			"host granted features %#llx, asked for %#llx\n",
			got, wanted);
		return -EPROTO;
	}
	e->features = got;
	return 0;
}

/* --- net_device_ops ----------------------------------------------------- */

static int vbus_enet_open(struct net_device *ndev)
{
	struct vbus_enet *e = netdev_priv(ndev);
	int err;

	vbus_enet_rx_refill(e);
	napi_enable(&e->napi);
	err = vbus_enet_set_link(e, true);
	if (err)
		netdev_warn(ndev, "host did not take link up: %d\n", err);
	vbus_enet_update_link(e);
	netif_tx_start_all_queues(ndev);
	/* First poll processes what arrived while down and arms rx */
	napi_schedule(&e->napi);
	return 0;
}

static int vbus_enet_stop(struct net_device *ndev)
{
	struct vbus_enet *e = netdev_priv(ndev);
	int err;

	netif_carrier_off(ndev);
	netif_tx_disable(ndev);
	vbus_shm_signal_disarm(e->rx.to_guest);
	vbus_shm_signal_disarm(e->tx.to_guest);
	napi_disable(&e->napi);
	err = vbus_enet_set_link(e, false);
	if (err)
		netdev_dbg(ndev, "host did not take link down: %d\n", err);
	return 0;
}

static void vbus_enet_get_stats64(struct net_device *ndev,
				  struct rtnl_link_stats64 *tot)
{
	struct vbus_enet *e = netdev_priv(ndev);
	struct vbus_enet_rq_stats *rq = &e->rq_stats;
	struct vbus_enet_sq_stats *sq = &e->sq_stats;
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&rq->syncp);
		tot->rx_packets = u64_stats_read(&rq->packets);
		tot->rx_bytes = u64_stats_read(&rq->bytes);
		tot->rx_dropped = u64_stats_read(&rq->drops);
		tot->rx_errors = u64_stats_read(&rq->errors);
	} while (u64_stats_fetch_retry(&rq->syncp, start));
	do {
		start = u64_stats_fetch_begin(&sq->syncp);
		tot->tx_packets = u64_stats_read(&sq->packets);
		tot->tx_bytes = u64_stats_read(&sq->bytes);
		tot->tx_dropped = u64_stats_read(&sq->drops);
		tot->tx_errors = u64_stats_read(&sq->errors);
	} while (u64_stats_fetch_retry(&sq->syncp, start));
}

/* --- ethtool_ops -------------------------------------------------------- */

static void vbus_enet_get_drvinfo(struct net_device *ndev,
				  struct ethtool_drvinfo *info)
{
	struct vbus_enet *e = netdev_priv(ndev);

	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	snprintf(info->fw_version, sizeof(info->fw_version), "venet abi %u",
		 e->vdev->abi_version);
	strscpy(info->bus_info, dev_name(&e->vdev->dev),
		sizeof(info->bus_info));
}

static int vbus_enet_get_sset_count(struct net_device *ndev, int sset)
{
	return sset == ETH_SS_STATS ? VBUS_ENET_NSTATS : -EOPNOTSUPP;
}

static void vbus_enet_get_strings(struct net_device *ndev, u32 sset, u8 *buf)
{
	u32 i;

	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < VBUS_ENET_RQ_NSTATS; i++)
		ethtool_sprintf(&buf, "%s", vbus_enet_rq_stats_desc[i].name);
	for (i = 0; i < VBUS_ENET_SQ_NSTATS; i++)
		ethtool_sprintf(&buf, "%s", vbus_enet_sq_stats_desc[i].name);
	for (i = 0; i < VBUS_ENET_EV_NSTATS; i++)
		ethtool_sprintf(&buf, "%s", vbus_enet_ev_stats_desc[i].name);
}

/* Copy one counter group described by @desc into @data. */
static u64 *vbus_enet_fetch_stats(const struct vbus_enet_stat_desc *desc,
				  u32 n, const void *base,
				  const struct u64_stats_sync *syncp,
				  u64 *data)
{
	unsigned int start;
	u32 i;

	do {
		start = u64_stats_fetch_begin(syncp);
		for (i = 0; i < n; i++)
			data[i] = u64_stats_read(base + desc[i].offset);
	} while (u64_stats_fetch_retry(syncp, start));
	return data + n;
}

static void vbus_enet_get_ethtool_stats(struct net_device *ndev,
					struct ethtool_stats *stats, u64 *data)
{
	struct vbus_enet *e = netdev_priv(ndev);

	data = vbus_enet_fetch_stats(vbus_enet_rq_stats_desc,
				     VBUS_ENET_RQ_NSTATS, &e->rq_stats,
				     &e->rq_stats.syncp, data);
	data = vbus_enet_fetch_stats(vbus_enet_sq_stats_desc,
				     VBUS_ENET_SQ_NSTATS, &e->sq_stats,
				     &e->sq_stats.syncp, data);
	vbus_enet_fetch_stats(vbus_enet_ev_stats_desc, VBUS_ENET_EV_NSTATS,
			      &e->ev_stats, &e->ev_stats.syncp, data);
}

/* --- probe / remove ----------------------------------------------------- */

static const struct net_device_ops vbus_enet_netdev_ops;
static const struct ethtool_ops vbus_enet_ethtool_ops;

/* Check what the host offers before anything is allocated. */
static int vbus_enet_validate(struct vbus_device *vdev,
			      struct vbus_venet_config *cfg)
{
	const struct vbus_queue_desc *rxq, *txq;

	if (vdev->abi_version != VBUS_VENET_ABI_VERSION) {
		dev_err(&vdev->dev, "venet ABI %u, driver speaks %u\n",
			vdev->abi_version, VBUS_VENET_ABI_VERSION);
		return -ENODEV;
	}
	if (vbus_dev_read_config(vdev, cfg, sizeof(*cfg))) {
		dev_err(&vdev->dev, "config too short (%u bytes)\n",
			vdev->config_size);
		return -EINVAL;
	}
	rxq = vbus_dev_queue_desc(vdev, VBUS_ENET_RXQ);
	txq = vbus_dev_queue_desc(vdev, VBUS_ENET_TXQ);
	if (!le16_to_cpu(cfg->max_queue_pairs) || !rxq || !txq) {
		dev_err(&vdev->dev, "no rx/tx queue pair\n");
		return -EINVAL;
	}
	if (le32_to_cpu(rxq->buf_size) < VBUS_ENET_MIN_BUF ||
	    le32_to_cpu(txq->buf_size) < VBUS_ENET_MIN_BUF) {
		dev_err(&vdev->dev, "pool buffers smaller than %u bytes\n",
			VBUS_ENET_MIN_BUF);
		return -EINVAL;
	}
	return 0;
}

/* Slots needed for a packet of @len bytes (header included). */
static u32 vbus_enet_slots(const struct vbus_ring *ring, u32 len)
{
	return DIV_ROUND_UP(len, ring->buf_size);
}

/*
 * From the granted features and the queue geometry: MTU range, netdev
 * features, tx stop threshold, rx chain limit.
 */
static int vbus_enet_setup_features(struct vbus_enet *e,
				    const struct vbus_venet_config *cfg)
{
	struct net_device *ndev = e->ndev;
	u32 gso_len = VBUS_ENET_HDR_LEN + VBUS_ENET_MAX_FRAME;
	u32 mtu = le16_to_cpu(cfg->mtu), cap = ETH_MAX_MTU;
	bool tso = false;

	if (mtu < VBUS_ENET_MIN_MTU) {
		dev_warn(&e->vdev->dev, "host MTU %u out of range, using %u\n",
			 mtu, ETH_DATA_LEN);
		mtu = ETH_DATA_LEN;
	}
	/* What one packet may occupy in each ring */
	if (!(e->features & VENET_F_SG))
		cap = min(cap, e->tx.buf_size - VBUS_ENET_HDR_LEN - VLAN_ETH_HLEN);
	else
		cap = min(cap, e->tx.num * e->tx.buf_size - VBUS_ENET_HDR_LEN -
			  VLAN_ETH_HLEN);
	if (!(e->features & VENET_F_MRG_RXBUF))
		cap = min(cap, e->rx.buf_size - VBUS_ENET_HDR_LEN - VLAN_ETH_HLEN);
	if (cap < VBUS_ENET_MIN_MTU) {
		dev_err(&e->vdev->dev, "pool buffers too small for any MTU\n");
		return -EINVAL;
	}
	if (mtu > cap) {
		dev_warn(&e->vdev->dev, "host MTU %u capped to %u by the buffers\n",
			 mtu, cap);
		mtu = cap;
	}
	ndev->min_mtu = VBUS_ENET_MIN_MTU;
	ndev->max_mtu = mtu;
	ndev->mtu = mtu;

	e->tx_max_slots = vbus_enet_slots(&e->tx, VBUS_ENET_HDR_LEN + mtu +
					  VLAN_ETH_HLEN);
	if ((e->features & VENET_F_CSUM) &&
	    (e->features & (VENET_F_HOST_TSO4 | VENET_F_HOST_TSO6)) &&
	    ((e->features & VENET_F_SG) || e->tx.buf_size >= gso_len) &&
	    vbus_enet_slots(&e->tx, gso_len) <= e->tx.num) {
		tso = true;
		e->tx_max_slots = vbus_enet_slots(&e->tx, gso_len);
	}
	e->rx_max_chain = 1;
	if (e->features & VENET_F_MRG_RXBUF)
		e->rx_max_chain = min(e->rx.num, vbus_enet_slots(&e->rx, gso_len));

	if (e->features & VENET_F_CSUM) {
		ndev->hw_features |= NETIF_F_HW_CSUM | NETIF_F_SG;
		if (tso && (e->features & VENET_F_HOST_TSO4))
			ndev->hw_features |= NETIF_F_TSO;
		if (tso && (e->features & VENET_F_HOST_TSO6))
			ndev->hw_features |= NETIF_F_TSO6;
		if (tso && (e->features & VENET_F_HOST_ECN))
			ndev->hw_features |= NETIF_F_TSO_ECN;
	}
	ndev->features = ndev->hw_features;
	if (e->features & VENET_F_GUEST_CSUM)
		ndev->features |= NETIF_F_RXCSUM;
	ndev->vlan_features = ndev->features;
	netif_set_tso_max_size(ndev, VENET_MAX_PACKET);
	return 0;
}

static int vbus_enet_probe(struct vbus_device *vdev)
{
	struct vbus_venet_config cfg;
	struct net_device *ndev;
	struct vbus_enet *e;
	u64 wanted;
	int err;

	err = vbus_enet_validate(vdev, &cfg);
	if (err)
		return err;

	ndev = alloc_etherdev(sizeof(*e));
	if (!ndev)
		return -ENOMEM;
	SET_NETDEV_DEV(ndev, &vdev->dev);
	ndev->netdev_ops = &vbus_enet_netdev_ops;
	ndev->ethtool_ops = &vbus_enet_ethtool_ops;
	e = netdev_priv(ndev);
	e->ndev = ndev;
	e->vdev = vdev;
	u64_stats_init(&e->rq_stats.syncp);
	u64_stats_init(&e->sq_stats.syncp);
	u64_stats_init(&e->ev_stats.syncp);

	if (is_valid_ether_addr(cfg.mac)) {
		eth_hw_addr_set(ndev, cfg.mac);
	} else {
		eth_hw_addr_random(ndev);
		dev_warn(&vdev->dev, "host MAC %pM is not a valid unicast address, using random %pM\n",
			 cfg.mac, ndev->dev_addr);
	}

	err = vbus_ring_init(&e->rx, vdev, VBUS_ENET_RXQ);
	if (!err)
		err = vbus_ring_init(&e->tx, vdev, VBUS_ENET_TXQ);
	if (err)
		goto err_free;
	/* NAPI exists (disabled) before any handler can schedule it */
	netif_napi_add(ndev, &e->napi, vbus_enet_poll);
	err = vbus_dev_set_queue_handler(vdev, VBUS_ENET_RXQ,
					 vbus_enet_rx_signal, e);
	if (!err)
		err = vbus_dev_set_queue_handler(vdev, VBUS_ENET_TXQ,
						 vbus_enet_tx_signal, e);
	if (err)
		goto err_handlers;

	err = vbus_dev_open(vdev);
	if (err) {
		dev_err(&vdev->dev, "open failed: %d\n", err);
		goto err_handlers;
	}
	if (!vbus_ring_is_clean(&e->rx) || !vbus_ring_is_clean(&e->tx)) {
		dev_err(&vdev->dev, "host did not reset the queues on open\n");
		err = -EIO;
		goto err_close;
	}

	wanted = le64_to_cpu(cfg.host_features) & VBUS_ENET_WANTED;
	err = vbus_enet_negotiate(e, wanted);
	if (err) {
		dev_err(&vdev->dev, "feature negotiation failed: %d\n", err);
		goto err_close;
	}
	err = vbus_enet_setup_features(e, &cfg);
	if (err)
		goto err_close;

	vbus_enet_rx_refill(e);
	netif_carrier_off(ndev);
	err = register_netdev(ndev);
	if (err)
		goto err_close;
	dev_set_drvdata(&vdev->dev, e);
	netdev_info(ndev, "vbus device %u, MAC %pM, MTU %u, features %#llx\n",
		    vdev->id, ndev->dev_addr, ndev->mtu, e->features);
	return 0;

err_close:
	vbus_dev_close(vdev);
err_handlers:
	vbus_dev_clear_queue_handlers(vdev);
	netif_napi_del(&e->napi);
err_free:
	free_netdev(ndev);
	return err;
}

static void vbus_enet_remove(struct vbus_device *vdev)
{
	struct vbus_enet *e = dev_get_drvdata(&vdev->dev);
	struct net_device *ndev = e->ndev;

	unregister_netdev(ndev);	/* runs vbus_enet_stop if up */
	vbus_dev_clear_queue_handlers(vdev);
	vbus_dev_close(vdev);
	netif_napi_del(&e->napi);
	dev_set_drvdata(&vdev->dev, NULL);
	free_netdev(ndev);
}

static void vbus_enet_config_changed(struct vbus_device *vdev)
{
	struct vbus_enet *e = dev_get_drvdata(&vdev->dev);

	rtnl_lock();
	if (netif_running(e->ndev))
		vbus_enet_update_link(e);
	rtnl_unlock();
}

static const struct net_device_ops vbus_enet_netdev_ops = {
	.ndo_open = vbus_enet_open,
	.ndo_stop = vbus_enet_stop,
	.ndo_start_xmit = vbus_enet_xmit,
	.ndo_get_stats64 = vbus_enet_get_stats64,
	.ndo_validate_addr = eth_validate_addr,
	.ndo_set_mac_address = eth_mac_addr,
};

static const struct ethtool_ops vbus_enet_ethtool_ops = {
	.get_drvinfo = vbus_enet_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_sset_count = vbus_enet_get_sset_count,
	.get_strings = vbus_enet_get_strings,
	.get_ethtool_stats = vbus_enet_get_ethtool_stats,
};

static struct vbus_driver vbus_enet_driver = {
	.driver = {
		.name = KBUILD_MODNAME,
	},
	.type = VBUS_DEV_TYPE_VENET,
	.probe = vbus_enet_probe,
	.remove = vbus_enet_remove,
	.config_changed = vbus_enet_config_changed,
};

module_vbus_driver(vbus_enet_driver);

MODULE_ALIAS("vbus:t00000001");	/* VBUS_DEV_TYPE_VENET */
MODULE_DESCRIPTION("AlacrityVM virtual ethernet on vbus");
MODULE_AUTHOR("AlacrityVM developers");
MODULE_LICENSE("GPL");
