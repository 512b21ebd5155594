// SPDX-License-Identifier: GPL-2.0
#include "virtqueue.h"

#include <atomic>
#include <cstring>

#include "lib/shared_word.h"

namespace avm::bench {
namespace {

struct VringDesc {
  uint64_t addr;  // here: offset of the buffer in the region
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
struct VringUsedElem {
  uint32_t id;
  uint32_t len;
};

constexpr uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

void mb() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Typed pointers into the region.
struct Vring {
  uint32_t num;
  VringDesc* desc;
  uint16_t* avail_flags;
  uint16_t* avail_idx;
  uint16_t* avail_ring;
  uint16_t* used_event;  // driver-written, after avail ring
  uint16_t* used_flags;
  uint16_t* used_idx;
  VringUsedElem* used_ring;
  uint16_t* avail_event;  // device-written, after used ring
  uint8_t* pool;

  Vring(Region& r, const VringLayout& l) : num(l.num) {
    uint8_t* base = r.data();
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): laid out below
    desc = reinterpret_cast<VringDesc*>(base + l.desc);
    avail_flags = reinterpret_cast<uint16_t*>(base + l.avail);
    avail_idx = avail_flags + 1;
    avail_ring = avail_flags + 2;
    used_event = avail_ring + num;
    used_flags = reinterpret_cast<uint16_t*>(base + l.used);
    used_idx = used_flags + 1;
    used_ring = reinterpret_cast<VringUsedElem*>(base + l.used + 4);
    avail_event = reinterpret_cast<uint16_t*>(used_ring + num);
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    pool = base + l.pool;
  }
};

}  // namespace

VringLayout vring_layout(uint32_t num, uint32_t msg_size) {
  VringLayout l{};
  l.num = num;
  l.desc = 4096;
  l.avail = l.desc + uint64_t{num} * sizeof(VringDesc);
  l.used = align_up(l.avail + 6 + 2 * uint64_t{num}, 4096);
  l.pool = align_up(l.used + 6 + 8 * uint64_t{num}, 4096);
  l.end = l.pool + uint64_t{num} * msg_size;
  return l;
}

VirtqueueTransport::VirtqueueTransport(uint32_t entries, uint32_t msg_size)
    : Transport(vring_layout(entries, msg_size).end),
      l_(vring_layout(entries, msg_size)),
      msg_size_(msg_size) {}

// Device side (vhost-like): consumes avail, produces used.
void VirtqueueTransport::reset() {
  std::memset(region().data() + l_.desc, 0, l_.end - l_.desc);
}

void VirtqueueTransport::consume(Stats* s) {
  Vring vr(region(), l_);
  const uint16_t mask = static_cast<uint16_t>(vr.num - 1);
  uint16_t last_avail = 0;
  uint16_t used = 0;
  uint16_t signalled = 0;  // used idx at the last signal decision
  uint64_t received = 0;
  uint64_t bad = 0;  // descriptors outside the pool, a bad avail index
  RingChecker check(false);
  uint64_t irqs = 0;
  uint64_t sleeps = 0;

  // One batch; returns how many were taken.
  auto poll = [&]() -> uint32_t {
    // Acquire: pairs with the driver's release store of avail->idx
    // (virtio_wmb + write in virtqueue_add).
    const uint16_t avail = load_acquire(*vr.avail_idx);
    uint32_t n = static_cast<uint16_t>(avail - last_avail);
    if (n > vr.num) {
      ++bad;  // driver fault
      n = 0;
    }
    n = std::min(n, kBatch);
    for (uint32_t i = 0; i < n; i++) {
      const uint16_t head = read_once(vr.avail_ring[last_avail & mask]);
      last_avail++;
      VringDesc d;
      d.addr = read_once(vr.desc[head & mask].addr);
      d.len = read_once(vr.desc[head & mask].len);
      // Validate like a device must: the buffer is inside the pool.
      const uint64_t pool_end = l_.pool + uint64_t{vr.num} * msg_size_;
      const bool valid =
          head < vr.num && d.addr >= l_.pool && d.addr <= pool_end && d.len <= pool_end - d.addr;
      if (valid) {
        check.take({region().data() + d.addr, d.len}, false);
      } else {
        ++bad;
      }
      received++;
      write_once(vr.used_ring[used & mask].id, uint32_t{head});
      write_once(vr.used_ring[used & mask].len, d.len);
      used++;
    }
    if (n > 0) {
      // Release: used ring entries before used->idx.
      store_release(*vr.used_idx, used);
      // virtio_mb: used->idx before reading used_event (vhost_notify).
      mb();
      const uint16_t ev = read_once(*vr.used_event);
      if (vring_need_event(ev, used, signalled)) {
        irq().signal();
        irqs++;
      }
      signalled = used;
    }
    return n;
  };
  auto drain = [&] {
    while (poll() > 0) {
    }
  };
  while (received < s->total) {
    drain();
    // vhost_disable_notify with EVENT_IDX: nothing to write.
    for (int i = 0; i < kSpin && received < s->total; i++) {
      drain();
    }
    if (received >= s->total) {
      break;
    }
    // vhost_enable_notify: avail_event = last_avail; mb; re-check.
    write_once(*vr.avail_event, last_avail);
    mb();
    if (load_acquire(*vr.avail_idx) != last_avail) {
      continue;
    }
    sleeps++;
    if (!sleep_on(doorbell(), s)) {
      break;
    }
  }
  s->received = received;
  s->bad = bad + bad_messages(check.result());
  s->irqs = irqs;
  s->host_sleeps = sleeps;
}

// Driver side (virtio_ring.c-like): produces avail, consumes used.
void VirtqueueTransport::produce(Stats* s) {
  Vring vr(region(), l_);
  const uint16_t mask = static_cast<uint16_t>(vr.num - 1);
  uint16_t avail = 0;
  uint16_t kicked = 0;  // avail idx at the last kick decision
  uint16_t last_used = 0;
  uint64_t kicks = 0;
  uint64_t sleeps = 0;

  auto reap = [&] {
    // Acquire: pairs with the device's release store of used->idx.
    const uint16_t u = load_acquire(*vr.used_idx);
    while (last_used != u) {
      (void)read_once(vr.used_ring[last_used & mask].id);
      last_used++;
    }
  };
  auto in_flight = [&] { return static_cast<uint16_t>(avail - last_used); };
  auto wait_room = [&](uint32_t limit) {
    reap();
    while (in_flight() > limit) {
      // virtqueue_enable_cb: used_event = last_used; mb; re-check.
      write_once(*vr.used_event, last_used);
      mb();
      if (load_acquire(*vr.used_idx) != last_used) {
        reap();
        continue;
      }
      sleeps++;
      if (!sleep_on(irq(), s)) {
        return false;
      }
      reap();
    }
    // virtqueue_disable_cb with EVENT_IDX: nothing to write.
    return true;
  };
  bool ok = true;
  for (uint64_t seq = 0; seq < s->total && ok; seq++) {
    if (in_flight() == vr.num) {
      ok = wait_room(vr.num - 1);
      if (!ok) {
        break;
      }
    }
    const uint16_t slot = avail & mask;
    uint8_t* buf = vr.pool + uint64_t{slot} * msg_size_;
    fill_message(buf, msg_size_, seq, s->total);
    write_once(vr.desc[slot].addr, l_.pool + uint64_t{slot} * msg_size_);
    write_once(vr.desc[slot].len, msg_size_);
    write_once(vr.desc[slot].flags, uint16_t{0});
    write_once(vr.avail_ring[slot], slot);
    avail++;
    // virtio_wmb + avail->idx: publishes the descriptor and ring entry.
    store_release(*vr.avail_idx, avail);
    // virtqueue_kick_prepare: virtio_mb, then avail_event.
    mb();
    if (vring_need_event(read_once(*vr.avail_event), avail, kicked)) {
      doorbell().signal();
      kicks++;
    }
    kicked = avail;
  }
  if (ok) {
    wait_room(0);
  }
  s->kicks = kicks;
  s->guest_sleeps = sleeps;
}

}  // namespace avm::bench
