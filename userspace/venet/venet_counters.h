// SPDX-License-Identifier: GPL-2.0
// Counters of one venet device: written by its I/O thread (and, for a few,
// by the bridge loop), read by anyone (metrics, tests) through snapshot().
#pragma once

#include <cstdint>

#include "bridge/counter.h"

namespace avm {

struct VenetStats {
  // guest -> tap
  uint64_t tx_packets = 0, tx_bytes = 0;
  uint64_t tx_errors = 0;        // packets rejected (bad header, runt): VBUS_USED_F_ERROR
  uint64_t tx_dropped_link = 0;  // dropped while the link was down
  uint64_t tap_write_errors = 0;
  // tap -> guest
  uint64_t rx_packets = 0, rx_bytes = 0;
  uint64_t rx_no_buffers = 0;    // stalls: a frame waited for the guest's buffers
  uint64_t rx_too_big = 0;       // dropped: larger than a buffer without MRG_RXBUF
  uint64_t rx_dropped_link = 0;  // dropped while the link was down
  // notifications
  uint64_t doorbells = 0;              // guest kicks received (eventfd counts)
  uint64_t tx_signals = 0;             // tx to_guest notifications sent (events posted)
  uint64_t tx_signals_suppressed = 0;  // ... the signal said "not needed"
  uint64_t rx_signals = 0;             // rx to_guest notifications sent
  uint64_t rx_signals_suppressed = 0;
  uint64_t rx_signals_deferred = 0;  // held back by receive coalescing
  uint64_t events_posted = 0;        // VBUS_EV_SIGNAL events the event queue took
  // polling
  uint64_t wakeups = 0;             // I/O thread woke up from epoll_wait
  uint64_t polls = 0;               // busy-poll passes
  uint64_t poll_hits = 0;           // busy-poll passes that found work
  uint64_t busy_poll_us = 0;        // current adaptive budget
  uint64_t polls_skipped_busy = 0;  // work, but no idle core: slept instead of polling
  uint64_t tx_arm_deferred = 0;     // slept with TX disarmed (a stream flows)
  uint64_t stream_ticks = 0;        // the stream timer fired
  // faults and lifecycle
  uint64_t bad_descriptors = 0;  // guest faults on the rings
  uint64_t resets = 0;           // quarantines after a fault
  uint64_t opens = 0;
};

struct VenetCounters {
  Counter tx_packets, tx_bytes, tx_errors, tx_dropped_link, tap_write_errors;
  Counter rx_packets, rx_bytes, rx_no_buffers, rx_too_big, rx_dropped_link;
  Counter doorbells, tx_signals, tx_signals_suppressed, rx_signals, rx_signals_suppressed,
      rx_signals_deferred, events_posted;
  Counter wakeups, polls, poll_hits, polls_skipped_busy, tx_arm_deferred, stream_ticks;
  std::atomic<uint64_t> busy_poll_us{0};  // relaxed: a statistic
  Counter bad_descriptors, resets, opens;

  VenetStats snapshot() const {
    VenetStats s;
    s.tx_packets = tx_packets.get();
    s.tx_bytes = tx_bytes.get();
    s.tx_errors = tx_errors.get();
    s.tx_dropped_link = tx_dropped_link.get();
    s.tap_write_errors = tap_write_errors.get();
    s.rx_packets = rx_packets.get();
    s.rx_bytes = rx_bytes.get();
    s.rx_no_buffers = rx_no_buffers.get();
    s.rx_too_big = rx_too_big.get();
    s.rx_dropped_link = rx_dropped_link.get();
    s.doorbells = doorbells.get();
    s.tx_signals = tx_signals.get();
    s.tx_signals_suppressed = tx_signals_suppressed.get();
    s.rx_signals = rx_signals.get();
    s.rx_signals_suppressed = rx_signals_suppressed.get();
    s.rx_signals_deferred = rx_signals_deferred.get();
    s.events_posted = events_posted.get();
    s.wakeups = wakeups.get();
    s.polls = polls.get();
    s.poll_hits = poll_hits.get();
    s.busy_poll_us = busy_poll_us.load(std::memory_order_relaxed);
    s.polls_skipped_busy = polls_skipped_busy.get();
    s.tx_arm_deferred = tx_arm_deferred.get();
    s.stream_ticks = stream_ticks.get();
    s.bad_descriptors = bad_descriptors.get();
    s.resets = resets.get();
    s.opens = opens.get();
    return s;
  }
};

}  // namespace avm
