// SPDX-License-Identifier: GPL-2.0
// The two-process harness shared by both ring benchmarks: one memfd region
// and two eventfds made before fork; the consumer (host) runs in a forked
// child pinned to one CPU, the producer (guest) in the parent pinned to the
// other.  Both transports follow the same policy:
//  - the producer notifies after every message (if the scheme says so) and,
//    when the ring is full, asks for a completion signal and sleeps on the
//    "irq" eventfd;
//  - the consumer drains in batches of kBatch, completes, signals (if the
//    scheme says so), busy-polls kSpin more rounds, then asks for a
//    notification and sleeps on the "doorbell" eventfd.
// Both consumers check what arrives with RingChecker (the ring tests'
// checker, userspace/testing/ring_checker.h); the vbus one is
// consume_ring() itself.
#pragma once

#include <cstdint>
#include <memory>

#include "lib/eventfd.h"
#include "lib/region.h"
#include "testing/ring_checker.h"

namespace avm::bench {

constexpr uint32_t kBatch = 32;
constexpr int kSpin = 64;
constexpr int kWaitMs = 20000;

// Shared between the processes; lives at the start of the region.
struct Stats {  // NOLINT(clang-analyzer-optin.performance.Padding): a line per writer
  uint64_t total;
  alignas(64) uint32_t child_ready;
  uint32_t abort;
  // consumer
  alignas(64) uint64_t received;
  uint64_t bad;
  uint64_t irqs;  // host -> guest signals rung
  uint64_t host_sleeps;
  // producer
  alignas(64) uint64_t kicks;  // guest -> host signals rung
  uint64_t guest_sleeps;
};

struct PairResult {
  double seconds = 0;
  uint64_t msgs = 0;
  uint64_t kicks = 0;
  uint64_t irqs = 0;
  uint64_t bad = 0;
  uint64_t host_sleeps = 0;
  uint64_t guest_sleeps = 0;
  bool failed = false;
};

// One transport under test: its shared memory is laid out by the
// constructor (before fork).
class Transport {
 public:
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  virtual ~Transport() = default;
  // Parent, before fork: zero every shared ring and signal.
  virtual void reset() = 0;
  // Child: consume s->total messages.
  virtual void consume(Stats* s) = 0;
  // Parent: produce s->total messages of msg_size bytes and wait until all
  // are completed.
  virtual void produce(Stats* s) = 0;

  Region& region() { return *region_; }
  const EventFd& doorbell() const { return *doorbell_; }
  const EventFd& irq() const { return *irq_; }
  Stats* stats() const { return region_->at<Stats>(0); }

 protected:
  // Region of at least @bytes after the 4 KiB stats page.
  explicit Transport(uint64_t bytes);

 private:
  std::unique_ptr<Region> region_;
  std::unique_ptr<EventFd> doorbell_;
  std::unique_ptr<EventFd> irq_;
};

// Runs @t for @msgs messages across two processes; times the transfer.
PairResult run_pair(Transport& t, uint64_t msgs);

// Sleeps on @efd; false after kWaitMs (a lost wake-up) or if the other side
// gave up.
bool sleep_on(const EventFd& efd, Stats* s);

// The message the producer writes (userspace/testing/ring_message.h,
// without a checksum): @size bytes, one buffer.
inline void fill_message(uint8_t* buf, uint32_t size, uint64_t seq, uint64_t total) {
  ring_msg_fill(buf, size, seq, 1, seq + 1 == total, 0);
}
// Messages that arrived out of order, cut or split (RingChecker's verdict;
// the consumers copy every byte out, like a backend writing a TAP).
inline uint64_t bad_messages(const RingCheck& c) {
  return c.bad_seq + c.bad_segments + c.bad_sum;
}

}  // namespace avm::bench
