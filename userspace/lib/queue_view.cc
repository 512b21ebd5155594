// SPDX-License-Identifier: GPL-2.0
#include "lib/queue_view.h"

#include <algorithm>
#include <array>
#include <bit>
#include <string>

namespace avm {
namespace {

struct Range {
  const char* name;
  uint64_t off;
  uint64_t len;
};

tl::unexpected<Error> invalid(const std::string& why) {
  return make_error(EINVAL, "queue desc: " + why);
}

}  // namespace

Result<QueueView> QueueView::create(std::span<uint8_t> region, uint64_t area_offset,
                                    uint64_t area_size, const vbus_queue_desc& desc) {
  const uint64_t rsize = region.size();
  if (area_offset > rsize || area_size > rsize - area_offset) {
    return invalid("device area [" + std::to_string(area_offset) + ", +" +
                   std::to_string(area_size) + ") is outside the region");
  }
  if (area_offset % kAlign != 0) {
    return invalid("device area offset " + std::to_string(area_offset) + " is not aligned");
  }
  if (!std::all_of(std::begin(desc.reserved), std::end(desc.reserved),
                   [](uint32_t w) { return w == 0; })) {
    return invalid("reserved words are not zero");
  }
  const uint32_t n = desc.num_entries;
  if (!std::has_single_bit(n) || n > kMaxEntries) {
    return invalid("num_entries " + std::to_string(n) + " is not a power of two in 1.." +
                   std::to_string(kMaxEntries));
  }
  if (desc.buf_size == 0 || desc.buf_size > kMaxBufSize) {
    return invalid("buf_size " + std::to_string(desc.buf_size) + " is not in 1.." +
                   std::to_string(kMaxBufSize));
  }
  // Both factors are bounded (2^12 * 2^20), so the product fits in 64 bits.
  const uint64_t pool = uint64_t{n} * desc.buf_size;
  if (desc.pool_size != pool) {
    return invalid("pool_size " + std::to_string(desc.pool_size) +
                   " != num_entries * buf_size = " + std::to_string(pool));
  }
  const std::array<Range, 5> ranges = {{
      {"submit ring", desc.submit_offset, uint64_t{n} * sizeof(vbus_ring_desc)},
      {"used ring", desc.used_offset, uint64_t{n} * sizeof(vbus_ring_used)},
      {"to_host signal", desc.to_host_offset, sizeof(vbus_shm_signal)},
      {"to_guest signal", desc.to_guest_offset, sizeof(vbus_shm_signal)},
      {"pool", desc.pool_offset, pool},
  }};
  for (const Range& r : ranges) {
    // Offsets are 32-bit and lengths < 2^33, so off + len cannot overflow.
    if (r.off + r.len > area_size) {
      return invalid(std::string(r.name) + " [" + std::to_string(r.off) + ", +" +
                     std::to_string(r.len) + ") is outside the area of " +
                     std::to_string(area_size) + " bytes");
    }
    if (r.off % kAlign != 0) {
      return invalid(std::string(r.name) + " offset " + std::to_string(r.off) +
                     " is not 64-byte aligned");
    }
  }
  for (size_t i = 0; i < ranges.size(); i++) {
    for (size_t j = i + 1; j < ranges.size(); j++) {
      const Range& a = ranges[i];
      const Range& b = ranges[j];
      if (a.off < b.off + b.len && b.off < a.off + a.len) {
        return invalid(std::string(a.name) + " overlaps " + b.name);
      }
    }
  }
  if (reinterpret_cast<uintptr_t>(region.data()) % kAlign != 0) {
    return invalid("region mapping is not aligned");
  }
  uint8_t* area = region.data() + area_offset;
  QueueView v;
  v.desc_ = desc;
  // The offsets are checked to be in bounds and aligned for each type.
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast)
  v.submit_ = reinterpret_cast<vbus_ring_desc*>(area + desc.submit_offset);
  v.used_ = reinterpret_cast<vbus_ring_used*>(area + desc.used_offset);
  v.to_host_ = reinterpret_cast<vbus_shm_signal*>(area + desc.to_host_offset);
  v.to_guest_ = reinterpret_cast<vbus_shm_signal*>(area + desc.to_guest_offset);
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  v.pool_ = area + desc.pool_offset;
  return v;
}

}  // namespace avm
