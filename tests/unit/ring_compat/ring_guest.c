// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel producer of the ring stress test: modules/guest/vbus_ring.c's guest
 * endpoint, driven the way vbus_enet drives its TX queue:
 *  - fill entries with vbus_ring_set(), publish them with
 *    vbus_ring_commit(), ring the doorbell when vbus_shm_signal_notify()
 *    on to_host says so;
 *  - reap used entries with vbus_ring_peek_used() + vbus_ring_consume(),
 *    checking each against what was submitted;
 *  - when the ring is full: vbus_shm_signal_rearm() on to_guest, reap
 *    again (the final re-check), and sleep on the interrupt only when
 *    nothing came back; after a wake-up disarm and clear_dirty().
 */
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vbus_bus.h"
#include "ring_guest.h"
#include "testing/ring_message.h"

struct guest {
	struct vbus_ring ring;
	u32 *lens;	/* per slot: the len submitted */
	const struct ring_compat_wake *wake;
	u32 irq_seen;	/* spin mode: last *irq_word seen */
	int wait_ms;
	struct ring_compat_guest_result *out;
};

static int fail(struct guest *g, const char *why, unsigned long long v)
{
	snprintf(g->out->why, sizeof(g->out->why), "%s (%llu)", why, v);
	g->out->error = -1;
	return -1;
}

/* Take every used entry the host has written. */
static int reap(struct guest *g)
{
	struct vbus_ring_used u;
	int r;

	while ((r = vbus_ring_peek_used(&g->ring, 0, &u)) == 1) {
		u32 slot = g->ring.tail & g->ring.mask;

		if (le32_to_cpu(u.len) != g->lens[slot])
			return fail(g, "used length differs from the submitted one",
				    le32_to_cpu(u.len));
		if (le16_to_cpu(u.flags))
			return fail(g, "used entry flagged", le16_to_cpu(u.flags));
		vbus_ring_consume(&g->ring, 1);
		g->out->used++;
	}
	if (r < 0)
		return fail(g, "vbus_ring_peek_used: corrupt used entry",
			    g->ring.tail);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int ring_compat_spin_wait(uint32_t *word, uint32_t *seen, int wait_ms)
{
	long long deadline = now_ms() + wait_ms;
	uint32_t v;

	while ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) == *seen) {
		if (now_ms() > deadline)
			return -1;
		sched_yield();
	}
	*seen = v;
	return 0;
}

/* Sleep until the host's interrupt; -1 after wait_ms. */
static int sleep_on_irq(struct guest *g)
{
	struct pollfd p = { .fd = g->wake->irq_fd, .events = POLLIN };
	uint64_t v;

	g->out->sleeps++;
	if (g->wake->irq_fd < 0) {
		if (ring_compat_spin_wait(g->wake->irq_word, &g->irq_seen,
					  g->wait_ms))
			return fail(g, "lost wake-up: no interrupt", g->ring.head);
		return 0;
	}
	if (poll(&p, 1, g->wait_ms) != 1)
		return fail(g, "lost wake-up: no interrupt", g->ring.head);
	if (read(g->wake->irq_fd, &v, sizeof(v)) != sizeof(v))
		return fail(g, "read of the interrupt eventfd", 0);
	return 0;
}

/* Until @need slots are free (the TX queue stopped and woken). */
static int wait_slots(struct guest *g, u32 need)
{
	if (reap(g))
		return -1;
	while (vbus_ring_free_slots(&g->ring) < need) {
		/* Arm, then re-check: used entries that raced with the arming
		 * are either seen here or signalled by the host.
		 */
		vbus_shm_signal_rearm(g->ring.to_guest);
		if (reap(g))
			return -1;
		if (vbus_ring_free_slots(&g->ring) >= need)
			break;
		if (sleep_on_irq(g))
			return -1;
		/* The interrupt handler's and NAPI's steps */
		vbus_shm_signal_disarm(g->ring.to_guest);
		vbus_shm_signal_clear_dirty(g->ring.to_guest);
		if (reap(g))
			return -1;
	}
	vbus_shm_signal_disarm(g->ring.to_guest);
	return 0;
}

static void kick(struct guest *g)
{
	uint64_t one = 1;

	if (vbus_shm_signal_notify(g->ring.to_host)) {
		g->out->doorbells++;
		if (g->wake->doorbell_fd < 0)
			__atomic_fetch_add(g->wake->doorbell_word, 1,
					   __ATOMIC_RELEASE);
		else if (write(g->wake->doorbell_fd, &one, sizeof(one)) !=
			 sizeof(one))
			fail(g, "write of the doorbell eventfd", 0);
	} else {
		g->out->suppressed++;
	}
}

/* Submit message @seq of @n segments (ring_message.h) from @msg. */
static void submit(struct guest *g, u8 *msg, u32 n, u64 seq, int last, u32 *rng)
{
	const u32 buf = g->ring.buf_size;
	const u32 min_len = n == 1 ? (u32)sizeof(struct ring_msg_header) :
				     (n - 1) * buf + 1;
	u32 len, k;

	*rng ^= *rng << 13;	/* xorshift32 */
	*rng ^= *rng >> 17;
	*rng ^= *rng << 5;
	len = min_len + *rng % (n * buf - min_len + 1);
	ring_msg_fill(msg, len, seq, (uint16_t)n, last, 1);
	for (k = 0; k < n; k++) {
		u32 slot = (g->ring.head + k) & g->ring.mask;
		u32 seg = len - k * buf < buf ? len - k * buf : buf;

		memcpy(vbus_ring_buf(&g->ring, slot), msg + k * buf, seg);
		g->lens[slot] = seg;
		vbus_ring_set(&g->ring, k, k + 1 < n ? VBUS_DESC_F_NEXT : 0, seg);
	}
	vbus_ring_commit(&g->ring, n);
}

int ring_compat_guest_run(void *area, const struct vbus_queue_desc *qd,
			  uint64_t msgs, uint32_t max_chain, uint32_t seed,
			  const struct ring_compat_wake *wake, int wait_ms,
			  struct ring_compat_guest_result *out)
{
	struct vbus_queue_desc copy = *qd;
	struct vbus_device vdev = {
		.area = area,
		.num_queues = 1,
		.queues = &copy,
	};
	struct guest g = {
		.wake = wake,
		.wait_ms = wait_ms,
		.out = out,
	};
	u32 lens[VBUS_RING_MAX_ENTRIES];
	uint64_t seq;
	u32 rng = seed | 1;
	u8 *msg;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	g.lens = lens;
	if (vbus_ring_init(&g.ring, &vdev, 0))
		return fail(&g, "vbus_ring_init", 0);
	if (g.ring.buf_size < sizeof(struct ring_msg_header))
		return fail(&g, "pool buffers too small", g.ring.buf_size);
	if (max_chain < 1 || max_chain > g.ring.num)
		return fail(&g, "max_chain", max_chain);
	msg = malloc((size_t)max_chain * g.ring.buf_size);
	if (!msg)
		return fail(&g, "malloc", 0);

	for (seq = 0; seq < msgs && !ret; seq++) {
		u32 n;

		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		n = 1 + rng % max_chain;
		if (vbus_ring_free_slots(&g.ring) < n && wait_slots(&g, n)) {
			ret = -1;
			break;
		}
		submit(&g, msg, n, seq, seq + 1 == msgs, &rng);
		out->descs += n;
		out->msgs++;
		kick(&g);
		if (out->error)
			ret = -1;
	}
	free(msg);
	/* Every descriptor used before we return */
	if (!ret && wait_slots(&g, g.ring.num))
		ret = -1;
	return ret;
}
