// SPDX-License-Identifier: GPL-2.0
// avm::Stream: whether bulk data flows, judged from a byte count after each
// pass of the I/O thread.  A pass that moved at least kMinBytes starts a
// stream or keeps it going; it ends kEndsAfter after the last such pass.
// Small frames (request/response) never make one.  TxStream watches both
// directions, RxCoalesce the one towards the guest.
#pragma once

#include <chrono>
#include <cstdint>

#include "venet/io_clock.h"

namespace avm {

class Stream {
 public:
  static constexpr uint64_t kMinBytes = 8192;
  static constexpr std::chrono::microseconds kEndsAfter{2000};

  // @enabled false: never flows.  @bytes: the count so far.
  Stream(bool enabled, uint64_t bytes) : enabled_(enabled), bytes_(bytes) {}

  // After a pass, with the count then (it only grows).
  void after_pass(IoClock::time_point now, uint64_t bytes);
  bool flowing(IoClock::time_point now) const { return now < ends_; }
  // When it ends unless another pass keeps it going (flowing only).
  IoClock::time_point ends() const { return ends_; }

 private:
  bool enabled_;
  uint64_t bytes_;
  IoClock::time_point ends_{};
};

}  // namespace avm
