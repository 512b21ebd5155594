// SPDX-License-Identifier: GPL-2.0
// The guest-side readers of a bridge region (what the vbus_pci kernel
// driver checks), for the software guest, tests and fuzzers: each copies
// what it reads out of the guest-writable region and validates it.
#pragma once

#include <linux/vbus.h>

#include <cstdint>
#include <span>

#include "lib/error.h"
#include "lib/queue_view.h"

namespace avm {

// Guest side: copies the header out of @region and checks magic, ABI
// major, header_size, region_size (== region.size()), and that every table
// lies inside the region, aligned, without overlapping (overflow-safe).
Result<vbus_bridge_header> read_header(std::span<const uint8_t> region);
// Guest side: device-table slot @slot, state read first (acquire) then
// copied and checked against @hdr (a validated header): for a non-EMPTY
// slot the area lies inside the region after the fixed tables, config and
// queue table inside the area, the vector in range, reserved zero.
Result<vbus_dev_desc> read_device(std::span<const uint8_t> region, const vbus_bridge_header& hdr,
                                  uint32_t slot);
// Guest side: copies queue desc @q of a validated device and makes a view.
Result<QueueView> guest_queue_view(std::span<uint8_t> region, const vbus_dev_desc& dev, uint32_t q);

}  // namespace avm
