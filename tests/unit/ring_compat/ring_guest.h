/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel producer of the ring stress test (tests/unit/lib), in C: the
 * kernel's guest ring code (modules/guest/vbus_ring.c and
 * <linux/vbus_shm_signal.h>, built in userspace) used as vbus_enet uses it,
 * sending ring_message.h's messages.  Plain C types only: the C++ test
 * includes this too.
 */
#ifndef RING_COMPAT_RING_GUEST_H
#define RING_COMPAT_RING_GUEST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vbus_queue_desc;

struct ring_compat_guest_result {
	uint64_t msgs;		/* messages submitted */
	uint64_t descs;		/* descriptors submitted */
	uint64_t used;		/* used entries consumed */
	uint64_t doorbells;	/* notify() said ring */
	uint64_t suppressed;	/* notify() said no need */
	uint64_t sleeps;	/* waits for the host's interrupt */
	int error;		/* 0, or the step that failed (see .c) */
	char why[160];
};

/*
 * How the two sides wake each other: eventfds (a syscall on each side, as
 * with QEMU), or, with both fds -1, counters in memory that the waiter
 * spins on (no syscall near the shm-signal steps, so a missing barrier in
 * them is not hidden by the kernel's own).
 */
struct ring_compat_wake {
	int doorbell_fd;		/* guest rings, host waits */
	int irq_fd;			/* host raises, guest waits */
	uint32_t *doorbell_word;	/* the same without eventfds */
	uint32_t *irq_word;
};

/*
 * Run the guest: submit @msgs messages (userspace/testing/ring_message.h,
 * the last one flagged), chains of 1..@max_chain descriptors (seeded by @seed), through the queue @qd inside the device
 * area @area, ringing and waiting through @wake.  Waits until the host has
 * used every descriptor.  Any wait longer than @wait_ms fails.
 * Return: 0, or -1 with @out->why set.
 */
int ring_compat_guest_run(void *area, const struct vbus_queue_desc *qd,
			  uint64_t msgs, uint32_t max_chain, uint32_t seed,
			  const struct ring_compat_wake *wake, int wait_ms,
			  struct ring_compat_guest_result *out);

/* Spin until *@word differs from *@seen (then update it), or @wait_ms. */
int ring_compat_spin_wait(uint32_t *word, uint32_t *seen, int wait_ms);

#ifdef __cplusplus
}
#endif

#endif
