// SPDX-License-Identifier: GPL-2.0
#include "venet/rx_coalesce.h"

namespace avm {

RxCoalesce::Step RxCoalesce::after_pass(IoClock::time_point now, uint64_t rx_bytes,
                                        bool signal_pending) {
  stream_.after_pass(now, rx_bytes);
  const bool flowing = stream_.flowing(now);
  if (!signal_pending) {
    held_ = false;
  } else if (!held_) {
    held_ = true;
    deadline_ = now + delay_;
  }
  const bool flush = held_ && (!flowing || now >= deadline_);
  if (flush) {
    held_ = false;
  }
  return {.coalesce = flowing, .flush = flush};
}

std::optional<IoClock::time_point> RxCoalesce::deadline() const {
  if (!held_) {
    return std::nullopt;
  }
  return deadline_;
}

}  // namespace avm
