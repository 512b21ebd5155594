/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AlacrityVM vbus: the shm-signal protocol over one struct vbus_shm_signal
 * (<linux/vbus_ring.h>), for the guest (vbus_pci, vbus_enet) and the host
 * (vbus_host) kernel modules.  The C++ userspace implements the same steps
 * as avm::ShmSignal (userspace/lib/shm_signal.h) with the same names:
 * notify(), clear_dirty(), release_pending(), arm(), disarm().
 *
 * One side is the sender, the other the receiver; each side serializes its
 * own calls.  Protocol and barriers (docs/abi.md, "shm-signal"):
 *
 *   sender:   notify()           dirty = 1; A; enabled && xchg(pending, 1) == 0
 *   receiver: do { do { clear_dirty(); process(); } while (dirty());
 *             } while (release_pending());
 *             clear_dirty()      dirty = 0; B
 *             release_pending()  pending = 0; C; dirty && xchg(pending, 1) == 0
 *   polling:  disarm()           enabled = 0
 *             arm()              enabled = 1; D; return dirty
 *
 * A, B, C and D are full barriers (smp_mb()), std::atomic_thread_fence
 * (seq_cst) on a C++ peer; each sits between a store and a later load of a
 * different word, which only a full barrier orders, so at least one side
 * sees the other's store and a wake-up is never lost.  xchg() is fully
 * ordered.  Ring entry bodies are ordered by the ring's own seq
 * release/acquire, not by the signal.  A peer's words are only compared
 * against zero: a hostile peer can at worst cause spurious or missing
 * notifications of its own queue.
 */
#ifndef _LINUX_VBUS_SHM_SIGNAL_H
#define _LINUX_VBUS_SHM_SIGNAL_H

#include <linux/atomic.h>
#include <linux/types.h>
#include <linux/vbus_ring.h>

/**
 * vbus_shm_signal_notify() - sender: flag new work, decide whether to ring
 * @sig: the signal the peer receives
 *
 * Context: any; the caller serializes the senders of one signal.
 * Return: true when the receiver is armed and no notification is pending:
 * the caller must notify (doorbell, interrupt, eventfd).
 */
static inline bool vbus_shm_signal_notify(struct vbus_shm_signal *sig)
{
	WRITE_ONCE(sig->dirty, 1);
	/* A: orders the store of dirty (and every ring entry published
	 * before it) before the loads of enabled and pending.  Pairs with the
	 * receiver's B, C and D.
	 */
	smp_mb();
	/* Fully ordered: exactly one of the sender and the receiver's
	 * re-check in release_pending() takes pending.
	 */
	return READ_ONCE(sig->enabled) && xchg(&sig->pending, 1) == 0;
}

/**
 * vbus_shm_signal_dirty() - receiver: was work flagged since clear_dirty()?
 * @sig: a signal this side receives
 *
 * Return: the dirty word, read once.
 */
static inline bool vbus_shm_signal_dirty(const struct vbus_shm_signal *sig)
{
	return READ_ONCE(sig->dirty) != 0;
}

/**
 * vbus_shm_signal_clear_dirty() - receiver: start a pass over the work
 * @sig: a signal this side receives
 *
 * Work published after this sets dirty again.
 *
 * Context: the signal's single receiver.
 */
static inline void vbus_shm_signal_clear_dirty(struct vbus_shm_signal *sig)
{
	/* Writing only when set keeps the line shared while polling */
	if (READ_ONCE(sig->dirty))
		WRITE_ONCE(sig->dirty, 0);
	/* B: orders the clear of dirty before the ring reads of the coming
	 * pass.  Pairs with A: either this pass sees what the sender
	 * published, or the sender's dirty = 1 lands after our 0.
	 */
	smp_mb();
}

/**
 * vbus_shm_signal_release_pending() - receiver: finish the passes
 * @sig: a signal this side receives
 *
 * Clears pending and re-checks dirty, taking pending back if the sender
 * raced with us.
 *
 * Context: the signal's single receiver.
 * Return: true when the caller must run another pass.
 */
static inline bool vbus_shm_signal_release_pending(struct vbus_shm_signal *sig)
{
	WRITE_ONCE(sig->pending, 0);
	/* C: orders the clear of pending before the re-read of dirty.  Pairs
	 * with A: either the sender's xchg sees pending == 0, or we see its
	 * dirty = 1.
	 */
	smp_mb();
	if (!READ_ONCE(sig->dirty))
		return false;
	return xchg(&sig->pending, 1) == 0;
}

/**
 * vbus_shm_signal_arm() - receiver: stop polling, ask for notifications
 * @sig: a signal this side receives
 *
 * Context: the signal's single receiver.
 * Return: true when work was flagged meanwhile: keep polling, do not sleep.
 */
static inline bool vbus_shm_signal_arm(struct vbus_shm_signal *sig)
{
	WRITE_ONCE(sig->enabled, 1);
	/* D: orders the store of enabled before the load of dirty.  Pairs
	 * with A: either the sender sees enabled and notifies, or we see
	 * dirty here.
	 */
	smp_mb();
	return READ_ONCE(sig->dirty) != 0;
}

/**
 * vbus_shm_signal_rearm() - receiver without the pass loop: arm again
 * @sig: a signal this side receives
 *
 * For a receiver that handles its notifications by polling with the signal
 * disarmed (NAPI) instead of with clear_dirty()/release_pending(): it
 * has handled every notification so far, so it clears pending, then
 * arm().
 *
 * Context: the signal's single receiver.
 * Return: as vbus_shm_signal_arm().
 */
static inline bool vbus_shm_signal_rearm(struct vbus_shm_signal *sig)
{
	WRITE_ONCE(sig->pending, 0);
	return vbus_shm_signal_arm(sig);
}

/**
 * vbus_shm_signal_disarm() - receiver: start polling
 * @sig: a signal this side receives
 *
 * No barrier: a sender that still sees enabled sends one more, harmless
 * notification.
 *
 * Context: the signal's single receiver.
 */
static inline void vbus_shm_signal_disarm(struct vbus_shm_signal *sig)
{
	WRITE_ONCE(sig->enabled, 0);
}

/**
 * vbus_shm_signal_reset() - receiver: a fresh, disarmed signal
 * @sig: a signal this side receives, while the sender does not use it
 */
static inline void vbus_shm_signal_reset(struct vbus_shm_signal *sig)
{
	WRITE_ONCE(sig->enabled, 0);
	WRITE_ONCE(sig->pending, 0);
	WRITE_ONCE(sig->dirty, 0);
}

#endif /* _LINUX_VBUS_SHM_SIGNAL_H */
