// SPDX-License-Identifier: GPL-2.0
// A clock for the I/O thread's policies in tests: it stands still until
// the test moves it, so no test waits for the wall clock.
#pragma once

#include <chrono>

#include "venet/io_clock.h"

namespace avm {

class FakeClock {
 public:
  IoClock::time_point now() const { return now_; }
  void advance(IoClock::duration d) { now_ += d; }

 private:
  // Not the clock's epoch: a policy's "never" is the epoch.
  IoClock::time_point now_{std::chrono::hours(1)};
};

}  // namespace avm
