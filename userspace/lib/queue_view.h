// SPDX-License-Identifier: GPL-2.0
// avm::QueueView: where one queue lives in shared memory, built from a
// private, VALIDATED copy of its struct vbus_queue_desc and the bounds of
// its device area.  Both endpoints (HostQueue, GuestQueue) work on a view.
//
// Rules checked by create() (overflow-safe, on the private copy):
//  - the device area lies inside the region and is 64-byte aligned;
//  - num_entries is a power of two, 1 .. kMaxEntries;
//  - buf_size is 1 .. kMaxBufSize and pool_size == num_entries * buf_size;
//  - the submit ring, used ring, both signals and the pool each lie inside
//    the area, start on a 64-byte boundary, and do not overlap each other;
//  - every reserved word is zero.
// A view holds raw pointers into the mapping: the mapping must outlive it.
#pragma once

#include <linux/vbus_ring.h>

#include <cstdint>
#include <span>

#include "lib/error.h"

namespace avm {

class QueueView {
 public:
  static constexpr uint32_t kMaxEntries = 4096;
  static constexpr uint32_t kMaxBufSize = 1U << 20;
  static constexpr uint32_t kAlign = VBUS_CACHELINE;

  // @region: the whole mapped region; @area_offset/@area_size: the device
  // area (from the region start); @desc: a private copy of the queue desc,
  // offsets relative to the area.  EINVAL with the reason if anything is
  // off.
  static Result<QueueView> create(std::span<uint8_t> region, uint64_t area_offset,
                                  uint64_t area_size, const vbus_queue_desc& desc);

  uint32_t num_entries() const { return desc_.num_entries; }
  uint32_t mask() const { return desc_.num_entries - 1; }
  uint32_t buf_size() const { return desc_.buf_size; }
  const vbus_queue_desc& desc() const { return desc_; }

  vbus_ring_desc* submit() const { return submit_; }
  vbus_ring_used* used() const { return used_; }
  vbus_shm_signal* to_host() const { return to_host_; }
  vbus_shm_signal* to_guest() const { return to_guest_; }
  // Pool buffer @slot (0 .. num_entries - 1).
  std::span<uint8_t> buffer(uint32_t slot) const {
    AVM_CHECK(slot < desc_.num_entries);
    return {pool_ + static_cast<size_t>(slot) * desc_.buf_size, desc_.buf_size};
  }

 private:
  QueueView() = default;

  vbus_queue_desc desc_{};
  vbus_ring_desc* submit_ = nullptr;
  vbus_ring_used* used_ = nullptr;
  vbus_shm_signal* to_host_ = nullptr;
  vbus_shm_signal* to_guest_ = nullptr;
  uint8_t* pool_ = nullptr;
};

}  // namespace avm
