// SPDX-License-Identifier: GPL-2.0
// avm::RxCoalesce: receive coalescing of a venet I/O thread.  While a
// Stream flows towards the guest (a pass delivered Stream::kMinBytes),
// VenetRx holds the RX to_guest signal back (rx_signals_deferred), and it
// runs delay after the first frame it held (the worker's timerfd wakes the
// thread for that deadline), or at once when the stream ends.  The guest
// then takes one interrupt for several bursts of the tap instead of one per
// burst; request/response traffic never makes a stream and is signalled at
// once.  Off with a zero delay (rx_coalesce_us) or without a timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "venet/io_clock.h"
#include "venet/stream.h"

namespace avm {

class RxCoalesce {
 public:
  // What VenetRx does after a pass.
  struct Step {
    bool coalesce;  // VenetRx::set_coalescing(): hold the next signals back
    bool flush;     // VenetRx::flush_signal(): run the held-back signal now
  };

  // @rx_bytes: bytes delivered to the guest so far.
  RxCoalesce(bool has_timer, std::chrono::microseconds delay, uint64_t rx_bytes)
      : delay_(delay), stream_(has_timer && delay.count() > 0, rx_bytes) {}

  // After a pass: @rx_bytes delivered by then, @signal_pending whether
  // VenetRx holds a signal back (VenetRx::signal_pending()).
  Step after_pass(IoClock::time_point now, uint64_t rx_bytes, bool signal_pending);
  // When the held-back signal must run (the thread must wake by then), if
  // one is held back.
  std::optional<IoClock::time_point> deadline() const;

 private:
  std::chrono::microseconds delay_;
  Stream stream_;
  bool held_ = false;  // a held-back signal has a deadline
  IoClock::time_point deadline_{};
};

}  // namespace avm
