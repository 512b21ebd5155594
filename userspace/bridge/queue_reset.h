// SPDX-License-Identifier: GPL-2.0
// Zeroing a queue's shared state, for the moments the protocol says the
// host resets it (docs/abi.md): everything on bridge INIT, the host's
// side (used ring, to_host signal) on DEV_OPEN.  Only while no host
// thread serves the queue.
#pragma once

#include "lib/queue_view.h"

namespace avm {

// Used ring and to_host signal (the host's receive side): DEV_OPEN.
void reset_queue_host_side(const QueueView& q);
// Both rings and both signals: bridge INIT.
void reset_queue_all(const QueueView& q);

}  // namespace avm
