// SPDX-License-Identifier: GPL-2.0
#include "testing/guest_readers.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <string>

namespace avm {

namespace {

constexpr uint64_t kLine = VBUS_CACHELINE;

struct Table {
  const char* name;
  uint64_t off;
  uint64_t len;
};

}  // namespace

Result<vbus_bridge_header> read_header(std::span<const uint8_t> region) {
  if (region.size() < sizeof(vbus_bridge_header)) {
    return make_error(EINVAL, "bridge header: region too small");
  }
  vbus_bridge_header h;
  std::memcpy(&h, region.data(), sizeof h);
  if (h.magic != VBUS_MAGIC) {
    return make_error(ENODEV, "bridge header: bad magic (not a vbus region)");
  }
  if (h.abi_major != VBUS_ABI_MAJOR) {
    return make_error(ENODEV, "bridge header: ABI major " + std::to_string(h.abi_major) +
                                  ", expected " + std::to_string(VBUS_ABI_MAJOR));
  }
  if (h.header_size < sizeof(vbus_bridge_header)) {
    return make_error(EINVAL, "bridge header: header_size too small");
  }
  if (h.region_size != region.size()) {
    return make_error(EINVAL, "bridge header: region_size " + std::to_string(h.region_size) +
                                  " != mapped size " + std::to_string(region.size()));
  }
  if (h.evq_entries == 0 || !std::has_single_bit(h.evq_entries)) {
    return make_error(EINVAL, "bridge header: evq_entries is not a power of two");
  }
  if (h.devtab_slots == 0 || h.num_vectors == 0) {
    return make_error(EINVAL, "bridge header: no device slots or no vectors");
  }
  // 32-bit offsets plus 32-bit counts times small sizes: no 64-bit overflow.
  const Table tables[] = {
      {"header", 0, h.header_size},
      {"device table", h.devtab_offset, uint64_t{h.devtab_slots} * sizeof(vbus_dev_desc)},
      {"event queue", h.evq_offset,
       sizeof(vbus_evq_header) + uint64_t{h.evq_entries} * sizeof(vbus_event)},
      {"call channel", h.call_offset, uint64_t{h.call_slots} * sizeof(vbus_call_slot)},
  };
  for (const Table& t : tables) {
    if (t.off % kLine != 0 || t.off + t.len > region.size()) {
      return make_error(
          EINVAL, std::string("bridge header: ") + t.name + " is misaligned or outside the region");
    }
  }
  for (size_t i = 0; i < std::size(tables); i++) {
    for (size_t j = i + 1; j < std::size(tables); j++) {
      const Table& a = tables[i];
      const Table& b = tables[j];
      if (a.len > 0 && b.len > 0 && a.off < b.off + b.len && b.off < a.off + a.len) {
        return make_error(EINVAL, std::string("bridge header: ") + a.name + " overlaps " + b.name);
      }
    }
  }
  return h;
}

Result<vbus_dev_desc> read_device(std::span<const uint8_t> region, const vbus_bridge_header& hdr,
                                  uint32_t slot) {
  if (slot >= hdr.devtab_slots) {
    return make_error(EINVAL, "device slot " + std::to_string(slot) + " out of range");
  }
  const uint64_t off = hdr.devtab_offset + uint64_t{slot} * sizeof(vbus_dev_desc);
  AVM_CHECK(off + sizeof(vbus_dev_desc) <= region.size());  // hdr was validated
  // NOLINTNEXTLINE: inside the validated device table, 64-byte aligned
  auto* shared = reinterpret_cast<vbus_dev_desc*>(const_cast<uint8_t*>(region.data() + off));
  vbus_dev_desc d{};
  // State first (acquire), pairing with the host's release store of state.
  d.state = std::atomic_ref<uint32_t>(shared->state).load(std::memory_order_acquire);
  if (d.state == VBUS_DEV_EMPTY) {
    return d;
  }
  const uint32_t state = d.state;
  std::memcpy(&d, shared, sizeof d);
  d.state = state;
  if (d.state != VBUS_DEV_PRESENT && d.state != VBUS_DEV_REMOVING) {
    return make_error(EINVAL, "device slot: unknown state " + std::to_string(d.state));
  }
  const uint64_t tables_end = std::max<uint64_t>(
      {hdr.devtab_offset + uint64_t{hdr.devtab_slots} * sizeof(vbus_dev_desc),
       hdr.evq_offset + sizeof(vbus_evq_header) + uint64_t{hdr.evq_entries} * sizeof(vbus_event),
       hdr.call_offset + uint64_t{hdr.call_slots} * sizeof(vbus_call_slot)});
  if (d.id == 0) {
    return make_error(EINVAL, "device slot: id 0");
  }
  if (d.area_offset < tables_end || d.area_offset > region.size() ||
      d.area_size > region.size() - d.area_offset || d.area_offset % kLine != 0) {
    return make_error(EINVAL, "device slot: area outside the region or over the tables");
  }
  if (uint64_t{d.config_offset} + d.config_size > d.area_size ||
      uint64_t{d.queues_offset} + uint64_t{d.num_queues} * sizeof(vbus_queue_desc) > d.area_size ||
      d.queues_offset % alignof(vbus_queue_desc) != 0) {
    return make_error(EINVAL, "device slot: config or queue table outside the area");
  }
  if (d.doorbell_vector >= hdr.num_vectors) {
    return make_error(EINVAL, "device slot: doorbell vector out of range");
  }
  if (std::any_of(std::begin(d.reserved), std::end(d.reserved),
                  [](uint32_t w) { return w != 0; })) {
    return make_error(EINVAL, "device slot: reserved words not zero");
  }
  return d;
}

Result<QueueView> guest_queue_view(std::span<uint8_t> region, const vbus_dev_desc& dev,
                                   uint32_t q) {
  if (q >= dev.num_queues) {
    return make_error(EINVAL, "device has no queue " + std::to_string(q));
  }
  const uint64_t off = dev.area_offset + dev.queues_offset + uint64_t{q} * sizeof(vbus_queue_desc);
  if (off > region.size() || sizeof(vbus_queue_desc) > region.size() - off) {
    return make_error(EINVAL, "queue desc outside the region");
  }
  vbus_queue_desc copy;
  std::memcpy(&copy, region.data() + off, sizeof copy);
  return QueueView::create(region, dev.area_offset, dev.area_size, copy);
}

}  // namespace avm
