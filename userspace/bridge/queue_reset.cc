// SPDX-License-Identifier: GPL-2.0
#include "bridge/queue_reset.h"

#include <atomic>
#include <cstring>

namespace avm {

void reset_queue_host_side(const QueueView& q) {
  std::memset(static_cast<void*>(q.used()), 0, size_t{q.num_entries()} * sizeof(vbus_ring_used));
  std::memset(static_cast<void*>(q.to_host()), 0, sizeof(vbus_shm_signal));
  // Publish the zeroes before whatever tells the guest the queue is
  // usable (the call response's resp_seq release store also orders them;
  // this fence makes the helper safe on its own).
  std::atomic_thread_fence(std::memory_order_release);
}

void reset_queue_all(const QueueView& q) {
  std::memset(static_cast<void*>(q.submit()), 0, size_t{q.num_entries()} * sizeof(vbus_ring_desc));
  std::memset(static_cast<void*>(q.to_guest()), 0, sizeof(vbus_shm_signal));
  reset_queue_host_side(q);
}

}  // namespace avm
