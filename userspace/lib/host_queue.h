// SPDX-License-Identifier: GPL-2.0
// avm::HostQueue: the host endpoint of a queue.  It consumes the submit
// ring (guest-written, hostile) and produces the used ring, receives on the
// to_host signal and sends on the to_guest signal.
//
// Every submit entry is COPIED to private memory (one read of each field),
// then validated on the copy; the shared entry is never read again.  A
// descriptor that fails validation is a guest fault: poll() returns an
// error, the queue stops (broken()) and the owner resets or quarantines
// the device.  Nothing a guest writes can make this code abort.
//
// Ordering (docs/abi.md "Rings"): the submit entry's seq is read with
// acquire, pairing with the guest's smp_store_release() of seq after the
// body; the used entry's body is written first and its seq last with
// release, pairing with the guest's smp_load_acquire() of used seq.
//
// Single-threaded: one I/O thread owns a HostQueue.
#pragma once

#include <cstdint>
#include <span>

#include "lib/error.h"
#include "lib/queue_view.h"
#include "lib/shm_signal.h"

namespace avm {

// Why a submit entry was rejected.
enum class DescFault {
  kNone,
  kSeq,       // seq is neither "not yet written" nor "entry i" (a jump)
  kFlags,     // unknown flag bits
  kReserved,  // reserved field not zero
  kOffset,    // offset not inside the pool buffer of the entry's own slot
  kLength,    // offset + len runs past the end of that buffer
  kChain,     // a VBUS_DESC_F_NEXT chain longer than allowed
};
const char* to_string(DescFault f);

// A validated private copy of one submit entry.  Only HostQueue makes them.
class HostDesc {
 public:
  HostDesc() = default;
  uint32_t index() const { return index_; }  // entry number (free-running)
  uint16_t flags() const { return flags_; }
  bool has_next() const { return (flags_ & VBUS_DESC_F_NEXT) != 0; }
  uint32_t offset() const { return offset_; }  // in the pool
  uint32_t len() const { return len_; }

 private:
  friend class HostQueue;
  uint32_t index_ = 0;
  uint16_t flags_ = 0;
  uint32_t offset_ = 0;
  uint32_t len_ = 0;
};

class HostQueue {
 public:
  struct Counters {
    uint64_t consumed = 0;   // submit entries taken
    uint64_t completed = 0;  // used entries produced
    uint64_t polls = 0;      // poll() calls that found at least one entry
    uint64_t faults = 0;     // malformed descriptors seen
  };

  // @max_chain: longest VBUS_DESC_F_NEXT chain accepted (entries), at most
  // num_entries (0: num_entries).
  explicit HostQueue(const QueueView& view, uint32_t max_chain = 0);

  // Copies, validates and takes up to out.size() published submit entries
  // (batching), never more than the ring can have outstanding.  Returns how
  // many were taken (0: none published).  A malformed entry: entries before
  // it are returned first; the next call returns EPROTO naming the fault
  // and the queue is broken from then on.
  Result<size_t> poll(std::span<HostDesc> out);

  // The guest buffer bytes of a validated descriptor.  The guest can still
  // write them concurrently: treat the contents as untrusted.
  std::span<uint8_t> buffer(const HostDesc& d) const {
    return view_.buffer(d.index_ & view_.mask()).subspan(d.offset_ % view_.buf_size(), d.len_);
  }

  // Produces the used entry for @d, which must be the oldest outstanding
  // entry (completion is in order), with @len <= d.len().  Misuse is a host
  // bug and aborts.  Does not notify: call notify_guest() once per batch.
  void complete(const HostDesc& d, uint32_t len, uint16_t flags = 0);
  // to_guest.notify(): whether the caller must raise the guest's interrupt.
  bool notify_guest() { return to_guest_.notify(); }

  ShmSignal& to_host() { return to_host_; }    // host receives
  ShmSignal& to_guest() { return to_guest_; }  // host sends

  uint32_t outstanding() const { return next_submit_ - next_used_; }

  // Hand-over support (added for userspace/handover): where the queue
  // stands at a quiescent point, and a fresh queue that continues from
  // there.  Entries taken but not completed are NOT carried: resume()
  // starts consuming again at the oldest outstanding entry, so every
  // submit entry the new owner uses is copied and validated anew from the
  // (guest-writable) ring.  next_used(): the next used entry to produce;
  // taken_before_outstanding(): submit entries taken over the queue's
  // life, minus the outstanding ones.
  uint32_t next_used() const { return next_used_; }
  uint64_t taken_before_outstanding() const { return lap_ - outstanding(); }
  // Only on a queue that has taken nothing yet (aborts otherwise).
  void resume(uint32_t next_used, uint64_t taken) {
    AVM_CHECK(lap_ == 0 && next_submit_ == 0 && next_used_ == 0);
    next_submit_ = next_used;
    next_used_ = next_used;
    lap_ = taken;
  }
  bool broken() const { return fault_ != DescFault::kNone; }
  DescFault fault() const { return fault_; }
  const Counters& counters() const { return counters_; }
  const QueueView& view() const { return view_; }

 private:
  // Validates the private copy of entry @index.  kNone: valid; sets @ready
  // to false when the entry is simply not published yet.
  DescFault check(const vbus_ring_desc& copy, uint32_t index, bool* ready) const;
  tl::unexpected<Error> fault_error() const;

  QueueView view_;
  ShmSignal to_host_;
  ShmSignal to_guest_;
  uint32_t max_chain_;
  uint32_t next_submit_ = 0;  // next submit entry to take
  uint32_t next_used_ = 0;    // next used entry to produce
  uint64_t lap_ = 0;          // submit entries taken so far, 64-bit
  uint32_t chain_len_ = 0;    // entries of the open F_NEXT chain
  DescFault fault_ = DescFault::kNone;
  uint32_t fault_index_ = 0;
  Counters counters_;
};

}  // namespace avm
