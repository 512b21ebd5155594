// SPDX-License-Identifier: GPL-2.0
// avm::VenetWorker: the body of a venet device's I/O thread.  It waits on
// an EventLoop (reserved stop/pause events included) for the device's
// doorbell eventfd, the tap (edge-triggered) and a timerfd of its own, runs
// the transmit and receive paths under their to_host shm-signal receiver
// loops, and:
//
//  - Busy polling: after work it keeps polling rings and tap with the
//    signals DISARMED for an adaptive budget, so a guest in a burst rings
//    no doorbell at all.  The budget follows the hit ratio of the last
//    polling phase (doubles while at least one poll in kGoodRatio finds
//    work, halves below one in kBadRatio, up to busy_poll_max_us) and
//    polling needs idle cores (/proc/loadavg's runnable count, sampled
//    every kIdleProbeMs): during a stream the core this thread runs on
//    may be the last one free; otherwise (request/response, sparse
//    traffic) another core must stay idle for QEMU's main loop, which
//    relays our interrupts, and for the peers, or polling delays the
//    very answer it waits for.  Without them a spinning I/O thread only
//    takes time from the vCPUs.
//  - Streams: while bulk data flows (a pass moved at least kStreamBytes,
//    either way) the thread leaves the TX to_host signal disarmed and
//    sleeps with a timerfd tick of kTick: every tap burst, doorbell or tick
//    drains the TX ring, so neither the guest's ACKs (host->guest stream)
//    nor its data frames (guest->host stream) ring a doorbell, and no core
//    spins for it (QEMU's virtio-net tx=timer idea).  kStreamWindow after
//    the last such pass the signal is armed again.  A transmit waits at
//    most kTick; small frames (request/response) never make a stream.
//  - Receive coalescing: while a stream flows towards the guest (a pass
//    delivered at least kStreamBytes, within kStreamWindow), VenetRx holds
//    the RX to_guest signal back and the thread runs it rx_coalesce_us
//    after the first frame it held (the timerfd wakes it for that), or when
//    the stream ends.  The guest then takes one interrupt for several
//    bursts of the tap instead of one per burst; request/response traffic
//    never makes a stream and is signalled at once.
//
// To sleep it re-arms (tx unless streaming, rx only while starved for
// buffers) with the final re-check: ShmSignal::arm() returning true means
// work raced in and it keeps going.
//
// A guest fault ends run() with the error; the IoThread helper reports it
// and the bridge quarantines the device.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "bridge/event_loop.h"
#include "lib/eventfd.h"
#include "lib/unique_fd.h"
#include "venet/venet_rx.h"
#include "venet/venet_tx.h"

namespace avm {

class VenetWorker {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr uint32_t kMinBudgetUs = 2;
  static constexpr uint64_t kGoodRatio = 8;  // >= 1 hit in 8 polls: double
  static constexpr uint64_t kBadRatio = 32;  // < 1 hit in 32 polls: halve
  static constexpr int kIdleProbeMs = 50;
  static constexpr uint64_t kStreamBytes = 8192;
  static constexpr std::chrono::microseconds kTick{200};
  static constexpr std::chrono::microseconds kStreamWindow{2000};

  // Cores left idle while this thread runs (negative: oversubscribed).
  using SpareProbe = std::function<long()>;

  // Everything is borrowed and outlives run().
  VenetWorker(EventLoop& loop, VenetTx& tx, VenetRx& rx, const EventFd* doorbell, int tap_fd,
              VenetState& state, uint32_t busy_poll_max_us, uint32_t rx_coalesce_us);

  // Until the loop is asked to stop (Status ok) or a fault (the error).
  Status run();

  // Replaces the /proc/loadavg probe (tests).  Before run().
  void set_spare_probe(SpareProbe p) { spare_probe_ = std::move(p); }

  // The default probe: online CPUs minus runnable tasks (this thread
  // included).
  static long spare_cores();

 private:
  Status pass(bool* work);
  bool may_poll(Clock::time_point now, bool streaming);
  void set_timer(Clock::duration d);

  EventLoop& loop_;
  VenetTx& tx_;
  VenetRx& rx_;
  const EventFd* doorbell_;
  int tap_fd_;
  VenetState& st_;
  uint32_t max_us_;
  std::chrono::microseconds coalesce_;
  bool rang_ = false;  // the doorbell fired since the last pass
  UniqueFd timer_;
  bool timer_armed_ = false;
  SpareProbe spare_probe_;
  long spare_ = 1;
  Clock::time_point next_probe_{};
};

}  // namespace avm
