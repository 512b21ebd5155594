// SPDX-License-Identifier: GPL-2.0
// avm::BusyPoll: the adaptive busy-poll window of a venet I/O thread.
// After a pass that found work the thread keeps polling rings and tap with
// both to_host signals DISARMED until window_us() passes without work, so a
// guest in a burst rings no doorbell at all.  The window follows the hit
// ratio of the last polling phase: it doubles, up to the device's
// busy_poll_max_us (where it starts), while at least one poll in kGrowRatio
// finds work, and halves, down to kMinWindowUs, below one in kShrinkRatio.
// Zero turns polling off.  A phase starts only with the caller's consent
// (SpareCoreGate: no spare core, no polling).  The window is the
// busy_poll_us gauge; vbus_host.ko's busy_poll_us is a fixed window.
#pragma once

#include <cstdint>

#include "venet/io_clock.h"

namespace avm {

class BusyPoll {
 public:
  static constexpr uint32_t kMinWindowUs = 2;
  static constexpr uint64_t kGrowRatio = 8;     // >= 1 hit in 8 polls: double
  static constexpr uint64_t kShrinkRatio = 32;  // < 1 hit in 32 polls: halve

  // What the thread does after a pass.
  enum class Step {
    kSleep,    // not polling: arm the signals and sleep
    kStart,    // a phase starts: disarm the signals, poll again at once
    kPoll,     // the phase goes on: poll again at once
    kEnd,      // the window passed without work: the phase ended and the
               // window adapted (window_us()); sleep
    kRefused,  // work, but no consent to poll: sleep
  };

  explicit BusyPoll(uint32_t max_window_us) : max_us_(max_window_us), window_us_(max_window_us) {}

  bool polling() const { return polling_; }
  uint32_t window_us() const { return window_us_; }

  // After a pass that found @work or not.  may_start() (bool) is asked only
  // when work would start a phase.
  template <class MayStart>
  Step after_pass(IoClock::time_point now, bool work, MayStart&& may_start) {
    count(work);
    if (work && window_us_ > 0 && (polling_ || may_start())) {
      return extend(now);
    }
    return settle(now, work);
  }

 private:
  void count(bool work);
  Step extend(IoClock::time_point now);
  Step settle(IoClock::time_point now, bool work);

  uint32_t max_us_;
  uint32_t window_us_;
  bool polling_ = false;
  uint64_t phase_polls_ = 0;
  uint64_t phase_hits_ = 0;
  IoClock::time_point deadline_{};
};

}  // namespace avm
