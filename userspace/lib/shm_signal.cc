// SPDX-License-Identifier: GPL-2.0
#include "lib/shm_signal.h"

namespace avm {

static_assert(std::atomic_ref<uint32_t>::required_alignment <= alignof(vbus_shm_signal));

ShmSignal::ShmSignal(vbus_shm_signal* sig) : sig_(sig) {
  AVM_CHECK(sig != nullptr);
  AVM_CHECK(reinterpret_cast<uintptr_t>(sig) % alignof(vbus_shm_signal) == 0);
}

bool ShmSignal::notify() {
  store(sig_->dirty, 1);
  // A: orders the store of dirty (and every ring entry published before
  // it) before the loads of enabled and pending below.  Pairs with B (the
  // receiver's clear of dirty before it reads the ring), C (its clear of
  // pending before it re-reads dirty) and D (its store of enabled before it
  // reads dirty); on a guest receiver those are smp_mb().
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (load(sig_->enabled) != 0 &&
      // Fully ordered like the kernel's xchg(): exactly one of the sender
      // and the receiver's re-check in release_pending() takes pending.
      std::atomic_ref<uint32_t>(sig_->pending).exchange(1, std::memory_order_seq_cst) == 0) {
    counters_.sent++;
    return true;
  }
  counters_.suppressed++;
  return false;
}

void ShmSignal::clear_dirty() {
  // Only write when set: a busy-polling receiver would otherwise keep
  // stealing the signal's cache line from the sender for nothing.  Not
  // writing a 0 over a 0 changes nothing the sender can observe; B is kept.
  if (load(sig_->dirty) != 0) {
    store(sig_->dirty, 0);
  }
  // B: orders the clear of dirty before the ring reads of the coming pass.
  // Pairs with A (smp_mb() after the guest sender sets dirty): either this
  // pass sees the entry the sender published, or the sender's dirty = 1
  // lands after our 0 and the while (dirty) re-check runs another pass.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

bool ShmSignal::release_pending() {
  store(sig_->pending, 0);
  // C: orders the clear of pending before the re-read of dirty.  Pairs
  // with A: either the sender's xchg sees pending == 0 (and rings), or we
  // see its dirty = 1 here.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (load(sig_->dirty) == 0) {
    return false;
  }
  // Work raced with the clear.  Whoever takes pending handles it: if the
  // sender took it, a notification is on its way and we may stop.
  return std::atomic_ref<uint32_t>(sig_->pending).exchange(1, std::memory_order_seq_cst) == 0;
}

bool ShmSignal::arm() {
  store(sig_->enabled, 1);
  // D: orders the store of enabled before the load of dirty.  Pairs with A
  // (the guest sender's smp_mb() between dirty = 1 and reading enabled):
  // either the sender sees enabled and notifies, or we see dirty here.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return load(sig_->dirty) != 0;
}

void ShmSignal::disarm() {
  // No barrier: a sender that still sees enabled == 1 sends one more,
  // harmless notification.
  store(sig_->enabled, 0);
}

}  // namespace avm
