// SPDX-License-Identifier: GPL-2.0
// avm::ShmSignal: the shm-signal suppression protocol of linux/vbus_ring.h
// over one struct vbus_shm_signal in shared memory.
//
// One ShmSignal object is used by ONE side: the sender calls notify(); the
// receiver calls handle(), arm() and disarm().  Each side is single
// threaded (the caller serialises its own calls); the two sides run
// concurrently in different threads, processes or machines (guest kernel).
//
// Protocol and barriers (docs/abi.md, "shm-signal"; letters as there):
//
//   sender (notify):   dirty = 1; A: full barrier;
//                      if (enabled && xchg(pending, 1) == 0) ring;
//   receiver (handle): loop { dirty = 0; B: full barrier; process(); }
//                      while (dirty);
//                      pending = 0; C: full barrier;
//                      if (dirty && xchg(pending, 1) == 0) goto loop;
//   receiver (arm):    enabled = 1; D: full barrier; return dirty;
//
// Each full barrier is std::atomic_thread_fence(seq_cst) and pairs with the
// guest kernel's smp_mb() at the matching letter on the other side; the
// xchg is exchange(seq_cst), like the kernel's fully ordered xchg().  Flag
// stores and loads are relaxed (WRITE_ONCE/READ_ONCE): the fences order
// them.  Every barrier sits between a store and a later load of a different
// word, which only a full barrier orders; with it at least one side sees
// the other's store, so a wake-up is never lost.  Ring entry bodies are
// ordered by the ring's own seq release/acquire, not by the signal.
//
// Words a peer writes are only compared against zero, so a hostile peer can
// at worst cause spurious or missing notifications of its own queue.
#pragma once

#include <linux/vbus_ring.h>

#include <atomic>
#include <cstdint>

#include "lib/error.h"

namespace avm {

class ShmSignal {
 public:
  struct Counters {
    uint64_t sent = 0;        // notify() said "ring"
    uint64_t suppressed = 0;  // notify() said "no need": disarmed or pending
    uint64_t passes = 0;      // receiver passes over its ring (handle loop)
  };

  // @sig must be 4-byte aligned shared memory that outlives this object.
  explicit ShmSignal(vbus_shm_signal* sig);

  // Sender: after publishing work, whether the caller must actually ring
  // (doorbell, event + interrupt, eventfd).
  bool notify();

  // Receiver, after a notification (and whenever it polls): runs
  // @process() until no new work was flagged while it ran, then clears
  // pending and re-checks, so that work flagged after the last pass either
  // runs here or brings a new notification.  @process must consume all the
  // work visible to it (or leave the rest to a later poll of its own).
  template <class F>
  void handle(F&& process) {
    do {
      do {
        clear_dirty();
        process();
        counters_.passes++;
      } while (dirty());
    } while (release_pending());
  }

  // Receiver: stop polling and ask for notifications.  Returns true if work
  // was flagged meanwhile: the caller must keep polling (call handle()),
  // not sleep.
  bool arm();
  // Receiver: start polling; the sender stops notifying (one in flight may
  // still arrive).
  void disarm();

  // Relaxed peeks, for statistics and tests.
  bool enabled() const { return load(sig_->enabled) != 0; }
  bool pending() const { return load(sig_->pending) != 0; }
  bool dirty() const { return load(sig_->dirty) != 0; }

  const Counters& counters() const { return counters_; }

 private:
  static uint32_t load(uint32_t& word) {
    return std::atomic_ref<uint32_t>(word).load(std::memory_order_relaxed);
  }
  static void store(uint32_t& word, uint32_t v) {
    std::atomic_ref<uint32_t>(word).store(v, std::memory_order_relaxed);
  }
  // dirty = 0; B.
  void clear_dirty();
  // pending = 0; C; true if dirty and we re-took pending: run another pass.
  bool release_pending();

  vbus_shm_signal* sig_;
  Counters counters_;
};

}  // namespace avm
