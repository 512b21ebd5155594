// SPDX-License-Identifier: GPL-2.0
// avm::GuestQueue: a software guest endpoint of a queue, for tests,
// benchmarks and tools (the real guest is the vbus_pci kernel driver).  It
// produces the submit ring and consumes the used ring, sends on the to_host
// signal and receives on the to_guest signal.
//
// Ordering: a submit entry's body and its pool buffer are written first and
// its seq last with release (the kernel driver's smp_store_release()),
// pairing with the host's acquire load of seq; used entries are read seq
// first with acquire, pairing with the host's release store.
//
// Single-threaded: one thread owns a GuestQueue.
#pragma once

#include <cstdint>
#include <span>

#include "lib/queue_view.h"
#include "lib/shm_signal.h"

namespace avm {

// A copy of one used entry.
struct UsedEntry {
  uint32_t index;  // entry number it completes (free-running)
  uint16_t flags;  // VBUS_USED_F_*
  uint32_t len;
};

class GuestQueue {
 public:
  explicit GuestQueue(const QueueView& view);

  uint32_t free_slots() const { return view_.num_entries() - outstanding(); }
  bool full() const { return outstanding() == view_.num_entries(); }
  uint32_t outstanding() const { return next_submit_ - next_used_; }

  // Pool buffer of the next submit slot, to fill in place.  Aborts if full.
  std::span<uint8_t> next_buffer() const;
  // Publishes the next entry: [start, start + len) of its slot's buffer
  // (start relative to the buffer), VBUS_DESC_F_* @flags.  Does not
  // notify.  Aborts if full or out of the buffer (a caller bug).
  void post(uint32_t len, uint16_t flags = 0, uint32_t start = 0);
  // Copies @data into the next buffer and posts it.  False if full.
  bool submit(std::span<const uint8_t> data, uint16_t flags = 0);
  // to_host.notify(): whether the caller must ring the doorbell.
  bool kick() { return to_host_.notify(); }

  // Takes up to out.size() used entries, in order; each frees its slot.
  size_t poll_used(std::span<UsedEntry> out);
  // The pool buffer of entry @index's slot (e.g. received data).
  std::span<const uint8_t> buffer(uint32_t index) const {
    return view_.buffer(index & view_.mask());
  }

  ShmSignal& to_host() { return to_host_; }    // guest sends
  ShmSignal& to_guest() { return to_guest_; }  // guest receives
  const QueueView& view() const { return view_; }

 private:
  QueueView view_;
  ShmSignal to_host_;
  ShmSignal to_guest_;
  uint32_t next_submit_ = 0;
  uint32_t next_used_ = 0;
};

}  // namespace avm
