// SPDX-License-Identifier: GPL-2.0
// avm::VenetRx: the receive path of a venet device (tap -> guest), run by
// its I/O thread.  The guest posts empty pool buffers on the RX queue;
// HostQueue copies and validates each descriptor, and we keep them in
// order.  A frame is read from the tap (vnet header included, as the tap
// wrote it under the negotiated offloads) into a private buffer, then
// copied into as many posted buffers as it needs: one, or several chained
// with VBUS_USED_F_NEXT and counted in num_buffers when MRG_RXBUF was
// negotiated.  Without enough buffers the frame is NOT dropped: it stays in
// the private buffer (rx_no_buffers counts the stall), no further frame is
// read from the tap (they queue there, which slows the sender down instead
// of costing it a retransmit), and the path reports itself starved, so the
// worker arms the RX to_host signal and the guest's refill kick wakes it.
// Only a frame that could never fit (larger than one buffer without
// MRG_RXBUF, larger than the whole ring with it) is dropped (rx_too_big).
// After a pass that delivered frames the to_guest signal runs once; when it
// says so, VBUS_EV_SIGNAL(dev, 0) goes through the event queue.
//
// Receive coalescing: while the worker says so (a stream flows to the
// guest), a pass that delivered frames leaves that signal pending instead
// (rx_signals_deferred), unless the guest's posted buffers fell below half
// the ring, a frame waits for buffers, or kCoalesceFrames frames are
// pending; the worker runs flush_signal() when the delay is up.
//
// The tap fd is watched edge-triggered: readiness is tracked here
// (tap_ready) and cleared on EAGAIN.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "lib/host_queue.h"
#include "venet/venet_state.h"

namespace avm {

class VenetRx {
 public:
  // Frames per process() call before yielding to the transmit side.
  static constexpr size_t kBudget = 64;
  // Pending frames that end a coalescing delay at once.
  static constexpr size_t kCoalesceFrames = 64;

  VenetRx(const QueueView& view, int tap_fd, VenetState& state);

  // Moves frames from the tap to posted buffers.  Returns frames
  // delivered, or EPROTO for a guest fault in the RX ring.
  Result<size_t> process();

  // The tap said it is readable (edge): remember it.
  void set_tap_ready() { tap_ready_ = true; }
  bool tap_ready() const { return tap_ready_; }
  // Waiting for the guest's buffers (none posted, or a held frame that
  // needs more): the worker arms the RX to_host signal.
  bool starved() const { return held_ != 0 || avail_.empty(); }
  // Whether a pass could make progress without a refill: the tap has
  // frames and we have buffers for the next one.
  bool can_progress() const { return tap_ready_ && !starved(); }
  HostQueue& queue() { return q_; }

  // Coalesce the to_guest signal from the next pass on (or stop doing
  // so; what is pending stays pending until flush_signal()).
  void set_coalescing(bool on) { coalescing_ = on; }
  // Frames were delivered whose signal is held back.
  bool signal_pending() const { return pending_frames_ != 0; }
  // Runs the held-back to_guest signal, if any.
  void flush_signal();

 private:
  Status refill();
  // Reads one frame into frame_; false on EAGAIN (tap drained).
  bool read_frame(size_t* len);
  void signal_guest();

  HostQueue q_;
  int tap_fd_;
  VenetState& st_;
  std::deque<HostDesc> avail_;  // validated, posted, not yet used
  std::vector<uint8_t> frame_;  // private frame buffer (header + 64 KiB+)
  size_t held_ = 0;             // length of a frame in frame_ waiting for buffers
  bool tap_ready_ = true;       // start by trying: a frame may be queued
  bool coalescing_ = false;
  size_t pending_frames_ = 0;  // delivered, signal held back
};

}  // namespace avm
