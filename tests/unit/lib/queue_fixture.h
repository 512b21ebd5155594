// SPDX-License-Identifier: GPL-2.0
// A region holding one queue, laid out like a device area, for ring tests.
// Bytes [0, kScratch) of the region are free for test bookkeeping (shared
// across fork); the device area starts at kScratch.
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <memory>

#include "lib/bridge_layout.h"
#include "lib/queue_view.h"
#include "lib/region.h"

namespace avm::testing {

struct OneQueue {
  static constexpr uint64_t kScratch = 4096;

  std::unique_ptr<Region> region;
  vbus_queue_desc desc{};
  uint64_t area_offset = kScratch;
  uint64_t area_size = 0;

  // Builds the region; check ok() afterwards.
  OneQueue(uint32_t num_entries, uint32_t buf_size) {
    const QueueSpec spec{num_entries, buf_size};
    auto layout = layout_device_area(0, {&spec, 1});
    if (!layout) {
      ADD_FAILURE() << layout.error().message;
      return;
    }
    desc = layout->queues[0];
    area_size = layout->size;
    const uint64_t size = std::max(Region::kMinSize, std::bit_ceil(kScratch + area_size));
    auto r = Region::create("queue-test", size);
    if (!r) {
      ADD_FAILURE() << r.error().message;
      return;
    }
    region = std::make_unique<Region>(std::move(*r));
    std::memcpy(region->data() + area_offset + layout->queues_offset, &desc, sizeof desc);
  }
  bool ok() const { return region != nullptr; }

  QueueView view() const {
    auto v = QueueView::create(region->span(), area_offset, area_size, desc);
    EXPECT_TRUE(v) << v.error().message;
    return *v;
  }
  template <class T>
  T* scratch() const {
    static_assert(sizeof(T) <= kScratch);
    return region->at<T>(0);
  }
};

}  // namespace avm::testing
