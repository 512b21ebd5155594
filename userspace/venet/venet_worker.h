// SPDX-License-Identifier: GPL-2.0
// avm::VenetWorker: the body of a venet device's I/O thread.  It waits on
// an EventLoop (reserved stop/pause events included) for the device's
// doorbell eventfd, the tap (edge-triggered) and a timerfd of its own, runs
// the transmit and receive paths under their to_host shm-signal receiver
// loops, and after each pass asks four policies, each a class of its own
// that is handed the instant of the pass (IoClock, read once per pass):
//
//  - BusyPoll (busy_poll.h): after work, keep polling with the signals
//    disarmed for an adaptive window, so a guest in a burst rings no
//    doorbell at all;
//  - SpareCoreGate (spare_core_gate.h): a polling phase starts only while
//    the probe (constructor; spare_cores_in_loadavg() in production) counts
//    spare cores;
//  - TxStream (tx_stream.h): while bulk data flows, sleep with the TX signal
//    disarmed and a timerfd tick instead (tx_arm_deferred, stream_ticks);
//  - RxCoalesce (rx_coalesce.h): while a stream flows towards the guest,
//    VenetRx holds the RX signal back until a deadline the timerfd wakes
//    the thread for, or until the stream ends.
//
// To sleep it re-arms (tx unless streaming, rx only while starved for
// buffers) with the final re-check: ShmSignal::arm() returning true means
// work raced in and it keeps going.
//
// A guest fault ends run() with the error; the IoThread helper reports it
// and the bridge quarantines the device.
#pragma once

#include <cstdint>

#include "bridge/event_loop.h"
#include "lib/eventfd.h"
#include "lib/unique_fd.h"
#include "venet/io_clock.h"
#include "venet/rx_coalesce.h"
#include "venet/spare_core_gate.h"
#include "venet/tx_stream.h"
#include "venet/venet_rx.h"
#include "venet/venet_tx.h"

namespace avm {

class VenetWorker {
 public:
  // Everything is borrowed and outlives run().  @spare_probe: the
  // SpareCoreGate's (spare_cores_in_loadavg in production).
  VenetWorker(EventLoop& loop, VenetTx& tx, VenetRx& rx, const EventFd* doorbell, int tap_fd,
              VenetState& state, uint32_t busy_poll_max_us, uint32_t rx_coalesce_us,
              SpareCoreGate::Probe spare_probe);

  // Until the loop is asked to stop (Status ok) or a fault (the error).
  Status run();

 private:
  Status watch();
  void unwatch();
  Status pass(bool* work);
  // Going to sleep: arms what should wake us; true when work raced in.
  bool prepare_sleep(IoClock::time_point now, const TxStream& stream, const RxCoalesce& coalesce);
  void set_timer(IoClock::duration d);

  EventLoop& loop_;
  VenetTx& tx_;
  VenetRx& rx_;
  const EventFd* doorbell_;
  int tap_fd_;
  VenetState& st_;
  uint32_t busy_poll_max_us_;
  std::chrono::microseconds rx_coalesce_;
  SpareCoreGate spare_;
  bool rang_ = false;  // the doorbell fired since the last pass
  UniqueFd timer_;
  bool timer_armed_ = false;
};

}  // namespace avm
