// SPDX-License-Identifier: GPL-2.0
#include "venet/stream.h"

namespace avm {

void Stream::after_pass(IoClock::time_point now, uint64_t bytes) {
  if (enabled_ && bytes - bytes_ >= kMinBytes) {
    ends_ = now + kEndsAfter;
  }
  bytes_ = bytes;
}

}  // namespace avm
