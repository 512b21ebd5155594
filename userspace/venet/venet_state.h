// SPDX-License-Identifier: GPL-2.0
// State a venet device shares between its control side (the bridge loop:
// calls, link changes) and its I/O thread.  Plain flags as atomics: each
// is a single word that orders nothing else, so relaxed loads and stores
// suffice (the I/O thread acts on the new value on its next packet).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "venet/venet_counters.h"

namespace avm {

struct VenetState {
  std::atomic<uint64_t> features{0};    // negotiated VENET_F_*
  std::atomic<bool> host_link{true};    // host-side carrier (config.link)
  std::atomic<bool> guest_link{false};  // guest's admin state (VENET_CALL_SET_LINK)
  VenetCounters counters;
  // Posts VBUS_EV_SIGNAL(dev, queue); true if the event queue took it.
  std::function<bool(uint32_t queue)> signal_guest;

  uint64_t feat() const { return features.load(std::memory_order_relaxed); }
  // The data path runs only while both ends want the link.
  bool link_active() const {
    return host_link.load(std::memory_order_relaxed) && guest_link.load(std::memory_order_relaxed);
  }
};

}  // namespace avm
