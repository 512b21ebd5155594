// SPDX-License-Identifier: GPL-2.0
// The consumer side of every ring test and benchmark (tests/unit/lib's
// ring stress test, tests/unit/ring_compat, tests/bench/ring): HostQueue
// drained as the daemon's I/O thread drains it, and one checker of what
// arrives.  Only the producer differs: GuestQueue, the kernel's
// vbus_ring.c built in userspace, or a virtqueue (which feeds RingChecker
// itself).  Messages are ring_message.h's.
//
//   RingConsumerOptions o{.total = n, .wait_doorbell = ..., .raise_irq = ...};
//   RingCheck c = consume_ring(view, o);   // on its own thread or process
//   for (auto& p : c.problems(n)) ADD_FAILURE() << p;
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lib/queue_view.h"
#include "testing/ring_message.h"

namespace avm {

// What the consumer saw.  Trivially copyable: a forked consumer hands it
// back through shared memory.
struct RingCheck {
  uint64_t received = 0;      // messages (chains) taken
  uint64_t entries = 0;       // descriptors taken
  uint64_t bad_seq = 0;       // lost, duplicated, reordered or cut messages
  uint64_t first_bad = 0;     // the message expected at the first of them
  uint64_t bad_segments = 0;  // chains split or merged
  uint64_t bad_sum = 0;       // corrupted payloads
  uint64_t extra = 0;         // entries published after the last message
  uint64_t sleeps = 0;        // waits on the doorbell
  uint64_t irqs_rung = 0;     // to_guest notifications sent
  uint64_t irqs_suppressed = 0;
  bool saw_last = false;  // the message the producer flagged last
  bool fault = false;     // HostQueue refused a descriptor
  bool timeout = false;   // a doorbell never came: a lost wake-up
  char fault_why[120] = {};

  // One line per failure; none when @total messages arrived, each once,
  // in order, whole, and nothing followed.
  std::vector<std::string> problems(uint64_t total) const;
};

// Checks messages as their buffers arrive, chain by chain.
class RingChecker {
 public:
  // @verify_sum: the payload's checksum too (benchmarks check the order
  // only, but still copy every byte out, as a backend writing a TAP does).
  explicit RingChecker(bool verify_sum = true) : verify_sum_(verify_sum) {}
  // One buffer; @more: the chain goes on.
  void take(std::span<const uint8_t> buf, bool more);
  RingCheck& result() { return r_; }

 private:
  void finish();

  bool verify_sum_;
  std::vector<uint8_t> msg_;
  uint32_t segments_ = 0;
  RingCheck r_;
};

struct RingConsumerOptions {
  uint64_t total = 0;      // messages to take
  uint32_t max_chain = 1;  // longest chain HostQueue accepts
  uint32_t batch = 32;     // entries per poll
  // Busy polling, like the daemon's I/O thread: after a pass, with a
  // chance of 1 in @poll_one_in (1: always), @poll_rounds more passes
  // with to_host disarmed; through ShmSignal::handle (its barriers and
  // dirty flag), or (@poll_ring) over the ring alone.
  uint32_t poll_one_in = 4;
  int poll_rounds = 64;
  bool poll_ring = false;
  bool verify_sum = true;
  uint32_t seed = 7;
  // Sleeps until the producer's doorbell; false: none came (a lost
  // wake-up) or the producer gave up.
  std::function<bool()> wait_doorbell;
  // Raises the producer's interrupt.
  std::function<void()> raise_irq;
};

// Takes @o.total messages from @view: drain and complete in batches,
// notify, busy-poll phases, arm and sleep.  Never throws.
RingCheck consume_ring(const QueueView& view, const RingConsumerOptions& o);

// The one report line of a run: "N msgs, M entries, ring R: doorbells ...".
std::string ring_report(const RingCheck& c, uint32_t ring_entries, uint64_t doorbells_rung,
                        uint64_t doorbells_suppressed, uint64_t producer_sleeps);

}  // namespace avm
