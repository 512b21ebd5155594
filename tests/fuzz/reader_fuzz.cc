// SPDX-License-Identifier: GPL-2.0
// Fuzz target: the guest-side readers of a region the host controls
// (testing/guest_readers: read_header, read_device, guest_queue_view; the
// software guest, testing/soft_guest).  A software guest is a consumer of
// hostile memory too: a broken or malicious host must not crash it.
//
// The input either lays out a valid region (BridgeLayout + devices) and
// then corrupts some of it, or fills the region with its own bytes
// (optionally with a matching magic, ABI and region_size).  Invariants:
// whatever read_header and read_device accept lies inside the region,
// aligned, after the fixed tables (checked here independently), and every
// queue view built from it points into the device area.
#include <lib/bridge_layout.h>
#include <testing/guest_queue.h>
#include <testing/guest_readers.h>
#include <testing/soft_guest.h>

#include <algorithm>
#include <array>
#include <memory>

#include "fuzz_util.h"

namespace {

using avm::fuzz::Input;

bool in_region(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

void check_header(const vbus_bridge_header& h, uint64_t size) {
  FUZZ_CHECK(h.magic == VBUS_MAGIC && h.abi_major == VBUS_ABI_MAJOR);
  FUZZ_CHECK(h.region_size == size);
  FUZZ_CHECK(h.header_size >= sizeof(vbus_bridge_header) && h.header_size <= size);
  FUZZ_CHECK(h.evq_entries != 0 && (h.evq_entries & (h.evq_entries - 1)) == 0);
  FUZZ_CHECK(h.devtab_slots != 0 && h.num_vectors != 0);
  FUZZ_CHECK(h.devtab_offset % 64 == 0 && h.evq_offset % 64 == 0 && h.call_offset % 64 == 0);
  FUZZ_CHECK(in_region(h.devtab_offset, uint64_t{h.devtab_slots} * sizeof(vbus_dev_desc), size));
  FUZZ_CHECK(in_region(
      h.evq_offset, sizeof(vbus_evq_header) + uint64_t{h.evq_entries} * sizeof(vbus_event), size));
  FUZZ_CHECK(in_region(h.call_offset, uint64_t{h.call_slots} * sizeof(vbus_call_slot), size));
}

void check_device(const vbus_dev_desc& d, const vbus_bridge_header& h, uint64_t size) {
  FUZZ_CHECK(d.state == VBUS_DEV_PRESENT || d.state == VBUS_DEV_REMOVING);
  FUZZ_CHECK(d.id != 0);
  FUZZ_CHECK(in_region(d.area_offset, d.area_size, size));
  FUZZ_CHECK(d.area_offset % 64 == 0);
  FUZZ_CHECK(d.area_offset >= h.devtab_offset + uint64_t{h.devtab_slots} * sizeof(vbus_dev_desc));
  FUZZ_CHECK(d.area_offset >= h.call_offset + uint64_t{h.call_slots} * sizeof(vbus_call_slot));
  FUZZ_CHECK(d.area_offset >=
             h.evq_offset + sizeof(vbus_evq_header) + uint64_t{h.evq_entries} * sizeof(vbus_event));
  FUZZ_CHECK(uint64_t{d.config_offset} + d.config_size <= d.area_size);
  FUZZ_CHECK(uint64_t{d.queues_offset} + uint64_t{d.num_queues} * sizeof(vbus_queue_desc) <=
             d.area_size);
  FUZZ_CHECK(d.doorbell_vector < h.num_vectors);
}

void check_view(const avm::QueueView& v, const vbus_dev_desc& d, std::span<uint8_t> region) {
  const std::span<const uint8_t> area(region.data() + d.area_offset, d.area_size);
  auto inside = [&](const void* p, uint64_t len) {
    const auto* b = static_cast<const uint8_t*>(p);
    return b >= area.data() && len <= area.size() &&
           static_cast<uint64_t>(b - area.data()) <= area.size() - len;
  };
  const uint64_t n = v.num_entries();
  FUZZ_CHECK(inside(v.submit(), n * sizeof(vbus_ring_desc)));
  FUZZ_CHECK(inside(v.used(), n * sizeof(vbus_ring_used)));
  FUZZ_CHECK(inside(v.to_host(), sizeof(vbus_shm_signal)));
  FUZZ_CHECK(inside(v.to_guest(), sizeof(vbus_shm_signal)));
  FUZZ_CHECK(inside(v.buffer(0).data(), n * v.buf_size()));
}

// A valid region with up to three devices.
void lay_out(std::span<uint8_t> region, Input& in) {
  avm::BridgeConfig bc;
  bc.devtab_slots = 1 + in.below(8);
  bc.evq_entries = 1U << in.below(9);
  bc.call_slots = in.below(9);
  bc.num_vectors = 1 + in.below(8);
  auto layout = avm::BridgeLayout::create(region, bc);
  if (!layout) {
    return;
  }
  for (uint32_t i = in.below(4); i > 0; i--) {
    std::vector<uint8_t> config(in.below(64), 0x5a);
    std::vector<avm::QueueSpec> queues(in.below(4));
    for (auto& q : queues) {
      q = {1U << in.below(6), 16 + in.below(512)};
    }
    (void)layout->add_device(1 + in.below(4), 1, config, queues, in.below(bc.num_vectors));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const bool valid_first = in.flag();
  // Layouts need 64 KiB; raw regions may be small.
  const size_t rsize = valid_first ? size_t{64} << 10 : size_t{4096} << in.below(5);
  avm::fuzz::Buffer region(rsize);
  if (valid_first) {
    lay_out(region.span(), in);
    // A few corruptions: (offset, length, bytes).
    for (uint32_t k = in.below(16); k > 0; k--) {
      const uint32_t off = in.take<uint16_t>() % rsize;
      const uint32_t len = std::min<uint32_t>(in.below(33), rsize - off);
      in.take_bytes(region.data() + off, len);
    }
  } else {
    in.take_bytes(region.data(), std::min(rsize, in.remaining()));
    if (in.flag()) {  // help the fuzzer past the identity checks
      auto* h = reinterpret_cast<vbus_bridge_header*>(region.data());  // NOLINT: a POD view
      h->magic = VBUS_MAGIC;
      h->abi_major = VBUS_ABI_MAJOR;
      h->region_size = rsize;
    }
  }

  auto hdr = avm::read_header(region.span());
  if (hdr) {
    check_header(*hdr, rsize);
    const uint32_t slots = std::min<uint32_t>(hdr->devtab_slots, 64);
    for (uint32_t s = 0; s < slots; s++) {
      auto dev = avm::read_device(region.span(), *hdr, s);
      if (!dev || dev->state == VBUS_DEV_EMPTY) {
        continue;
      }
      check_device(*dev, *hdr, rsize);
      const uint32_t queues = std::min<uint32_t>(dev->num_queues, 8);
      for (uint32_t q = 0; q < queues; q++) {
        auto view = avm::guest_queue_view(region.span(), *dev, q);
        if (!view) {
          continue;
        }
        check_view(*view, *dev, region.span());
        avm::GuestQueue gq(*view);
        if (!gq.full()) {
          gq.post(std::min<uint32_t>(view->buf_size(), 16));
        }
        std::array<avm::UsedEntry, 4> used{};
        FUZZ_CHECK(gq.poll_used(used) <= 1);
      }
    }
  }

  // The software guest: probe, read the device table, consume events, with
  // the host (the input) changing the region between steps.
  avm::SoftGuest guest(region.span(), [](uint32_t) {});
  if (guest.probe()) {
    FUZZ_CHECK(hdr.has_value());
    for (uint32_t round = in.below(4); round > 0; round--) {
      if (auto devs = guest.devices(); devs) {
        for (const auto& d : *devs) {
          check_device(d, guest.header(), rsize);
        }
      }
      (void)guest.poll_events();
      const uint32_t off = in.take<uint16_t>() % rsize;
      in.take_bytes(region.data() + off, std::min<uint32_t>(in.below(33), rsize - off));
    }
  }
  return 0;
}
