// SPDX-License-Identifier: GPL-2.0
// The baseline: a split virtqueue (virtio 1.x, section 2.7) with
// VIRTIO_F_EVENT_IDX, written here after Linux's virtio_ring.c (driver) and
// vhost.c (device), in the same harness as the vbus queue: same ring size,
// same message size, pre-mapped buffers (descriptor i always points at pool
// buffer i), same batching and the same sleep-on-eventfd policy.
#pragma once

#include <cstdint>

#include "harness.h"

namespace avm::bench {

// Layout in shared memory (offsets from the region start).
struct VringLayout {
  uint32_t num;
  uint64_t desc;   // num x VringDesc
  uint64_t avail;  // flags, idx, ring[num], used_event
  uint64_t used;   // flags, idx, ring[num] {id, len}, avail_event
  uint64_t pool;   // num x msg_size
  uint64_t end;
};

VringLayout vring_layout(uint32_t num, uint32_t msg_size);

// vring_need_event() from linux/virtio_ring.h.
inline bool vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old) {
  return static_cast<uint16_t>(new_idx - event_idx - 1) < static_cast<uint16_t>(new_idx - old);
}

class VirtqueueTransport : public Transport {
 public:
  VirtqueueTransport(uint32_t entries, uint32_t msg_size);
  void reset() override;
  void consume(Stats* s) override;
  void produce(Stats* s) override;

 private:
  VringLayout l_;
  uint32_t msg_size_;
};

}  // namespace avm::bench
