// SPDX-License-Identifier: GPL-2.0
#include "venet/busy_poll.h"

#include <algorithm>
#include <chrono>

namespace avm {

void BusyPoll::count(bool work) {
  if (polling_) {
    phase_polls_++;
    if (work) {
      phase_hits_++;
    }
  }
}

BusyPoll::Step BusyPoll::extend(IoClock::time_point now) {
  Step step = Step::kPoll;
  if (!polling_) {
    polling_ = true;
    phase_polls_ = 0;
    phase_hits_ = 0;
    step = Step::kStart;
  }
  deadline_ = now + std::chrono::microseconds(window_us_);
  return step;
}

BusyPoll::Step BusyPoll::settle(IoClock::time_point now, bool work) {
  if (polling_ && now >= deadline_) {
    polling_ = false;
    // Adapt to the hit ratio: polling that mostly finds nothing is CPU the
    // guest's vCPU did not get.
    if (phase_hits_ * kGrowRatio >= phase_polls_ && phase_hits_ > 0) {
      window_us_ = std::min(max_us_, window_us_ * 2);
    } else if (phase_hits_ * kShrinkRatio < phase_polls_) {
      window_us_ = std::max(kMinWindowUs, window_us_ / 2);
    }
    return Step::kEnd;
  }
  if (work && window_us_ > 0 && !polling_) {
    return Step::kRefused;
  }
  return polling_ ? Step::kPoll : Step::kSleep;
}

}  // namespace avm
