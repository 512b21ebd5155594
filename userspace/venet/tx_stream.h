// SPDX-License-Identifier: GPL-2.0
// avm::TxStream: the TX stream mode of a venet I/O thread.  While a Stream
// flows (a pass moved Stream::kMinBytes, either way), the thread leaves the
// TX to_host signal disarmed when it sleeps and sets its timerfd to tick
// every kTick instead: every tap burst, doorbell or tick drains the TX
// ring, so neither the guest's ACKs (host->guest stream) nor its data
// frames (guest->host stream) ring a doorbell, and no core spins for it
// (QEMU's virtio-net tx=timer idea).  A transmit waits at most kTick.  Once
// the stream ends (Stream::kEndsAfter after the last such pass) the signal
// is armed again.  Without a timer there is no stream mode.
#pragma once

#include <chrono>
#include <cstdint>

#include "venet/io_clock.h"
#include "venet/stream.h"

namespace avm {

class TxStream {
 public:
  static constexpr std::chrono::microseconds kTick{200};

  // @bytes: bytes moved so far, both ways.
  TxStream(bool has_timer, uint64_t bytes) : stream_(has_timer, bytes) {}

  // After a pass, with the bytes moved by then, both ways.
  void after_pass(IoClock::time_point now, uint64_t bytes) { stream_.after_pass(now, bytes); }
  // Sleep with the TX signal disarmed and the tick set.
  bool on(IoClock::time_point now) const { return stream_.flowing(now); }
  // While on(): how long the thread may sleep, kTick but not past the
  // stream's end (when the signal must be armed again).
  IoClock::duration tick(IoClock::time_point now) const;

 private:
  Stream stream_;
};

}  // namespace avm
