// SPDX-License-Identifier: GPL-2.0
// avm::VenetWorker: the body of a venet device's I/O thread.  It waits on
// an EventLoop (reserved stop/pause events included) for the device's
// doorbell eventfd and the tap (edge-triggered), runs the transmit and
// receive paths under their to_host shm-signal receiver loops, and after
// work keeps polling rings and tap with the signals DISARMED for an
// adaptive budget (doubling while polling finds work, halving when it
// does not, up to busy_poll_max_us), so a guest in a burst rings no
// doorbell at all.  To sleep it re-arms (tx always, rx only while starved
// for buffers) with the final re-check: ShmSignal::arm() returning true
// means work raced in and it keeps going.
//
// A guest fault ends run() with the error; the IoThread helper reports it
// and the bridge quarantines the device.
#pragma once

#include <cstdint>

#include "bridge/event_loop.h"
#include "lib/eventfd.h"
#include "venet/venet_rx.h"
#include "venet/venet_tx.h"

namespace avm {

class VenetWorker {
 public:
  // Everything is borrowed and outlives run().
  VenetWorker(EventLoop& loop, VenetTx& tx, VenetRx& rx, const EventFd* doorbell, int tap_fd,
              VenetState& state, uint32_t busy_poll_max_us);

  // Until the loop is asked to stop (Status ok) or a fault (the error).
  Status run();

 private:
  Status pass(bool* work);

  EventLoop& loop_;
  VenetTx& tx_;
  VenetRx& rx_;
  const EventFd* doorbell_;
  int tap_fd_;
  VenetState& st_;
  uint32_t max_us_;
  bool rang_ = false;  // the doorbell fired since the last pass
};

}  // namespace avm
