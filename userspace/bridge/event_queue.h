// SPDX-License-Identifier: GPL-2.0
// avm::EventQueue: the host's producer side of the vbus event queue
// (struct vbus_evq_header + ring, docs/abi.md "Event queue") and of its
// shm-signal, plus the interrupt sink that raises the guest's MSI-X
// vector 0.
//
// post() may be called from any host thread (the bridge loop and every
// device I/O thread): the ring has one producer, so posts are serialised
// by a mutex.  It is held for a handful of stores (and at most one
// eventfd write); going through the bridge loop instead would cost a
// thread wake-up per signal event on the data path.
//
// The guest writes `consumed` (and the signal's flags): both are hostile.
// `consumed` is read with acquire (pairs with the guest's
// smp_store_release() after it read the entries) and checked: a value
// ahead of what we produced, or more than evq_entries behind, is a guest
// fault; it is counted and the event is dropped like on overflow.
//
// No interrupt sink (no guest connected yet) is a normal state: the
// signal still decides, the interrupt is counted as "no sink".
#pragma once

#include <linux/vbus.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "bridge/stat_table.h"
#include "lib/shm_signal.h"
#include "lib/unique_fd.h"

namespace avm {

// The event queue's statistics (bridge/stat_table.h), one row each:
// EventQueueCounters and kEventQueueStats (bridge_counters.h) are made
// from them.  Names as in the hand-over state; the API and Prometheus say
// evq_<name>.
// NOLINTBEGIN(bugprone-macro-parentheses): the columns are names, not expressions
#define AVM_EVENT_QUEUE_STATS(X)                                                              \
  X(posted, kCounter, "Events written to the ring.")                                          \
  X(overflows, kCounter, "Events dropped: the ring was full.")                                \
  X(bad_consumed, kCounter, "Events dropped: the guest's consumed index was garbage.")        \
  X(disabled_drops, kCounter, "Events dropped: the bridge was not RUN.")                      \
  X(interrupts, kCounter, "Interrupts raised.")                                               \
  X(interrupts_no_sink, kCounter, "Interrupts the signal asked for with no guest connected.") \
  X(suppressed, kCounter, "Interrupts not raised: the signal said no need.")
// NOLINTEND(bugprone-macro-parentheses)

struct EventQueueCounters {
  AVM_EVENT_QUEUE_STATS(AVM_STAT_MEMBER)
};

class EventQueue {
 public:
  // How the interrupt is raised: a callback (tests), or nothing.
  using Sink = std::function<void()>;

  // @hdr and its @entries events lie in the mapped region (laid out by
  // BridgeLayout); the region outlives this object.
  EventQueue(vbus_evq_header* hdr, uint32_t entries);

  // Zeroes the header, the signal and every entry, restarts numbering at
  // 0.  Only while the guest does not use the queue (before host RUN).
  void reset();
  // While disabled (the link is not RUN) posts are dropped and counted.
  void set_enabled(bool on);

  // Posts one event (any thread) and runs the signal's sender side;
  // raises the interrupt if it says so.  False if the event was dropped.
  bool post(uint16_t type, uint32_t dev_id, uint32_t data);
  // Raises the interrupt unconditionally (bridge state changes, which the
  // guest reads from the header, not from the queue).
  void interrupt();

  // Where interrupts go.  set_sink_fd() takes an eventfd (the guest's
  // vector 0, a dup of the ivshmem client's); set_sink() a callback;
  // clear_sink() disconnects.  Any thread.
  void set_sink_fd(UniqueFd fd);
  void set_sink(Sink sink);
  void clear_sink();
  bool has_sink() const;

  EventQueueCounters counters() const;
  uint32_t produced() const;
  // What its log lines start with ("vm1: "; BridgeRuntime::set_log_name()).
  void set_log_prefix(std::string prefix);

  // Hand-over: the producer's private position and state, and continuing
  // from them without touching the ring (the guest may be reading it).
  struct Position {
    uint32_t produced = 0;
    uint32_t overflows = 0;
    bool enabled = false;
  };
  Position position() const;
  void resume(const Position& p);
  // Hand-over: the predecessor's counters, added to ours.
  void add_counters(const EventQueueCounters& c);

 private:
  void raise_locked();

  vbus_evq_header* hdr_;
  vbus_event* ring_;
  uint32_t entries_;
  mutable std::mutex mu_;
  ShmSignal signal_;        // under mu_
  uint32_t produced_ = 0;   // under mu_: events written so far
  uint32_t overflows_ = 0;  // under mu_: the header's overflows since reset()
  bool enabled_ = false;    // under mu_
  UniqueFd sink_fd_;        // under mu_
  Sink sink_;               // under mu_
  EventQueueCounters c_;    // under mu_
  std::string log_prefix_;  // under mu_
};

}  // namespace avm
