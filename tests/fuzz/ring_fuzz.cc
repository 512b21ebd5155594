// SPDX-License-Identifier: GPL-2.0
// Fuzz target: the host's consumption of a queue in guest-writable memory
// (lib/queue_view, lib/host_queue) and the software guest's consumption
// of the used ring (testing/guest_queue).
//
// The input builds a device area in a heap "region": a queue desc (raw
// bytes, or a valid layout from a few parameters), the area bounds, then
// a program of guest writes (well-formed posts, raw submit entries, raw
// bytes anywhere in the area) interleaved with host polls, completions
// and signal handling.  Invariants checked beyond "no crash":
//  - QueueView::create accepts only descs whose rings, signals and pool
//    lie inside the area (and the area inside the region), aligned and
//    disjoint -- checked again here independently;
//  - HostQueue::poll hands out entries in order, never more than asked
//    nor more than the ring holds, each with a buffer span inside its own
//    slot's pool buffer, known flags, chains no longer than max_chain;
//  - a fault breaks the queue for good and is counted once;
//  - complete() writes exactly the used entry it was asked to.
#include <lib/bridge_layout.h>
#include <lib/host_queue.h>
#include <lib/queue_view.h>
#include <testing/guest_queue.h>

#include <array>
#include <deque>
#include <vector>

#include "fuzz_util.h"

namespace {

using avm::fuzz::Input;

constexpr size_t kRegionSize = size_t{128} * 1024;
constexpr size_t kMaxOps = 512;

struct Range {
  uint64_t off, len;
};

// The independent oracle for QueueView::create.
void check_view(const avm::QueueView& v, std::span<uint8_t> region, uint64_t area_off,
                uint64_t area_size, const vbus_queue_desc& d) {
  FUZZ_CHECK(area_off <= region.size() && area_size <= region.size() - area_off);
  FUZZ_CHECK(area_off % 64 == 0);
  const uint64_t n = d.num_entries;
  FUZZ_CHECK(n >= 1 && n <= avm::QueueView::kMaxEntries && (n & (n - 1)) == 0);
  FUZZ_CHECK(d.buf_size >= 1 && d.buf_size <= avm::QueueView::kMaxBufSize);
  FUZZ_CHECK(uint64_t{d.pool_size} == n * d.buf_size);
  for (uint32_t w : d.reserved) {
    FUZZ_CHECK(w == 0);
  }
  const std::array<Range, 5> r = {{{d.submit_offset, n * sizeof(vbus_ring_desc)},
                                   {d.used_offset, n * sizeof(vbus_ring_used)},
                                   {d.to_host_offset, sizeof(vbus_shm_signal)},
                                   {d.to_guest_offset, sizeof(vbus_shm_signal)},
                                   {d.pool_offset, d.pool_size}}};
  for (size_t i = 0; i < r.size(); i++) {
    FUZZ_CHECK(r[i].off + r[i].len <= area_size);
    FUZZ_CHECK(r[i].off % 64 == 0);
    for (size_t j = i + 1; j < r.size(); j++) {
      FUZZ_CHECK(r[i].off + r[i].len <= r[j].off || r[j].off + r[j].len <= r[i].off);
    }
  }
  uint8_t* area = region.data() + area_off;
  FUZZ_CHECK(reinterpret_cast<uint8_t*>(v.submit()) == area + d.submit_offset);
  FUZZ_CHECK(reinterpret_cast<uint8_t*>(v.used()) == area + d.used_offset);
  FUZZ_CHECK(reinterpret_cast<uint8_t*>(v.to_host()) == area + d.to_host_offset);
  FUZZ_CHECK(reinterpret_cast<uint8_t*>(v.to_guest()) == area + d.to_guest_offset);
  FUZZ_CHECK(v.buffer(0).data() == area + d.pool_offset);
}

bool inside(std::span<const uint8_t> inner, std::span<const uint8_t> outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static avm::fuzz::Buffer region(kRegionSize);
  std::memset(region.data(), 0, region.size());
  Input in(data, size);

  // The queue desc and the device area.
  vbus_queue_desc desc{};
  uint64_t area_off = 0;
  uint64_t area_size = 0;
  if (in.flag()) {
    in.take_bytes(&desc, sizeof desc);
    area_off = in.take<uint32_t>() % (kRegionSize + 128);
    area_size = in.take<uint32_t>();
  } else {
    const avm::QueueSpec spec{1U << in.below(8), 1 + in.below(1024)};
    auto layout = avm::layout_device_area(0, {&spec, 1});
    FUZZ_CHECK(layout.has_value());  // a valid spec lays out
    desc = layout->queues[0];
    area_size = layout->size;
    area_off = uint64_t{64} * in.below(256);
    // Optionally one field of an otherwise valid desc is garbage.
    if (in.flag()) {
      auto* words = reinterpret_cast<uint32_t*>(&desc);  // NOLINT: a word view of a POD
      words[in.below(sizeof desc / 4)] = in.take<uint32_t>();
    }
  }
  auto view = avm::QueueView::create(region.span(), area_off, area_size, desc);
  if (!view) {
    return 0;
  }
  check_view(*view, region.span(), area_off, area_size, desc);

  const uint32_t n = view->num_entries();
  const uint32_t buf = view->buf_size();
  const uint32_t max_chain = in.below(n + 1);  // 0: num_entries
  const uint32_t chain_limit = max_chain == 0 ? n : max_chain;
  avm::HostQueue host(*view, max_chain);
  avm::GuestQueue guest(*view);
  const std::span<const uint8_t> pool(view->buffer(0).data(), size_t{n} * buf);

  std::deque<avm::HostDesc> outstanding;  // taken by the host, not completed
  uint32_t next_index = 0;                // next entry the host must hand out
  uint32_t chain = 0;                     // F_NEXT entries in the open chain
  uint64_t completed = 0;
  bool broken = false;
  std::vector<avm::HostDesc> batch;
  std::array<avm::UsedEntry, 64> used{};

  for (size_t op = 0; op < kMaxOps && !in.empty(); op++) {
    switch (in.below(7)) {
      case 0: {  // guest: a well-formed post
        if (guest.full()) {
          break;
        }
        const uint32_t start = in.below(buf + 1);
        const uint32_t len = in.below(buf - start + 1);
        guest.post(len, in.flag() ? VBUS_DESC_F_NEXT : 0, start);
        break;
      }
      case 1: {  // guest: raw entry where the host looks next, right seq
        vbus_ring_desc d{};
        in.take_bytes(&d, sizeof d);
        d.seq = next_index + 1;
        if (in.flag()) {
          d.offset = (next_index & view->mask()) * buf + d.offset % (buf + 1);
        }
        view->submit()[next_index & view->mask()] = d;
        break;
      }
      case 2: {  // guest: raw bytes anywhere in the area (rings, signals, pool)
        const uint64_t off = in.take<uint32_t>() % area_size;
        const uint64_t len = std::min<uint64_t>(in.below(65), area_size - off);
        in.take_bytes(region.data() + area_off + off, len);
        break;
      }
      case 3: {  // host: poll a batch
        batch.assign(1 + in.below(64), avm::HostDesc{});
        auto got = host.poll(batch);
        if (!got) {
          FUZZ_CHECK(host.broken());
          broken = true;
          break;
        }
        FUZZ_CHECK(!broken);  // a broken queue stays broken
        FUZZ_CHECK(*got <= batch.size());
        for (size_t i = 0; i < *got; i++) {
          const avm::HostDesc& d = batch[i];
          FUZZ_CHECK(d.index() == next_index);
          next_index++;
          FUZZ_CHECK((d.flags() & ~VBUS_DESC_F_NEXT) == 0);
          const auto b = host.buffer(d);
          FUZZ_CHECK(b.size() == d.len());
          FUZZ_CHECK(inside(b, pool));
          FUZZ_CHECK(inside(b, view->buffer(d.index() & view->mask())));
          chain = d.has_next() ? chain + 1 : 0;
          FUZZ_CHECK(chain < chain_limit || chain == 0);
          outstanding.push_back(d);
        }
        FUZZ_CHECK(outstanding.size() <= n);
        FUZZ_CHECK(host.outstanding() == outstanding.size());
        break;
      }
      case 4: {  // host: complete the oldest few, in order
        for (uint32_t k = in.below(8); k > 0 && !outstanding.empty(); k--) {
          const avm::HostDesc d = outstanding.front();
          outstanding.pop_front();
          const uint32_t len = d.len() == 0 ? 0 : in.take<uint32_t>() % (d.len() + 1);
          const auto flags = static_cast<uint16_t>(in.below(4));
          host.complete(d, len, flags);
          completed++;
          const vbus_ring_used& u = view->used()[d.index() & view->mask()];
          FUZZ_CHECK(u.seq == d.index() + 1);
          FUZZ_CHECK(u.flags == flags);
          FUZZ_CHECK(u.len == ((flags & VBUS_USED_F_ERROR) != 0 ? 0 : len));
          FUZZ_CHECK(u.reserved == 0 && u.reserved2 == 0);
        }
        FUZZ_CHECK(host.outstanding() == outstanding.size());
        break;
      }
      case 5: {  // guest: take used entries (the used ring is hostile to it too)
        const uint32_t before = guest.outstanding();
        const size_t got = guest.poll_used(std::span(used).first(1 + in.below(used.size())));
        FUZZ_CHECK(got <= before && guest.outstanding() == before - got);
        break;
      }
      case 6: {  // signals, with whatever flags the guest left there
        switch (in.below(4)) {
          case 0:
            (void)host.notify_guest();
            break;
          case 1:
            (void)host.to_host().arm();
            break;
          case 2:
            host.to_host().disarm();
            break;
          default:
            host.to_host().handle([] {});
            break;
        }
        break;
      }
      default:
        break;
    }
  }
  const auto& c = host.counters();
  FUZZ_CHECK(c.consumed == next_index);
  FUZZ_CHECK(c.completed == completed);
  FUZZ_CHECK(c.faults == (host.broken() ? 1U : 0U));
  FUZZ_CHECK(!broken || host.broken());
  return 0;
}
